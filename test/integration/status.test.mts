// status on the real engine: what it says runs is what the containers run, after a deploy and
// after a rollback; products not on this machine are reported, never fatal.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listContainers } from '../../lib/engine/engine.mts';
import { readLedger } from '../../lib/releases/ledger.mts';
import type { ProductStatus, StatusReport } from '../../lib/ops/status.mts';
import { makeFixtureProduct, type FixtureProduct } from '../rig/fixture-product.mts';
import { DEFINE_URL, engineAvailable, rigRunner, usePrefix, useRegistry } from '../rig/index.mts';

const HEALTH = `health: { path: '/healthz', port: 8080, timeoutSeconds: 15 }`;

describe.skipIf(!engineAvailable)('status on the real engine', () => {
  const prefix = usePrefix();
  const registry = useRegistry();
  let product: FixtureProduct;

  async function status(): Promise<{ report: StatusReport; mine: ProductStatus }> {
    const result = await product.berth(['--json'], { script: 'status' });
    expect(result.exitCode, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as StatusReport;
    const mine = report.products.find((p) => p.product === product.name);
    if (!mine) throw new Error(`status lists no ${product.name}`);
    return { report, mine };
  }

  async function expectMatchesContainers(mine: ProductStatus, tag: string): Promise<void> {
    const [container, ...more] = (await listContainers(rigRunner, product.name, 'web')).filter((c) => c.running);
    expect(more).toEqual([]);
    const web = mine.services.find((s) => s.service === 'web');
    const recorded = readLedger(join(product.stateDir, product.name)).at(-1)?.services.web;
    expect(web).toMatchObject({
      state: 'running',
      tag,
      image: `${product.repository('web')}:${tag}`,
      imageId: container?.imageId,
      digest: recorded?.digest,
      matchesLedger: true,
      deployedBy: 'berth-test',
    });
    expect(web?.containers.map((c) => c.id)).toEqual([container?.id.slice(0, 12)]);
    expect(web?.digest).toMatch(new RegExp(`^${product.repository('web')}@sha256:[0-9a-f]{64}$`));
    expect(['healthy', 'starting']).toContain(web?.health);
  }

  beforeAll(async () => {
    product = await makeFixtureProduct({ prefix, registry: registry.address, services: { web: { product: HEALTH } } });
    await product.pushApp('web', 'v1', { unique: true });
    await product.pushApp('web', 'v2', { unique: true });
    // A product whose repo is not on this machine, like the real products on a dev box.
    writeFileSync(
      join(product.productsDir, `${prefix}-ghost.mts`),
      `import { defineProduct } from '${DEFINE_URL}';\nexport default defineProduct({ name: '${prefix}-ghost', repo: '/nonexistent/${prefix}-ghost', composeFiles: ['compose.yaml'], services: { web: { kind: 'http' } } });\n`,
    );
  });
  afterAll(() => product?.remove());

  it('before any deploy: not deployed, for the product and for one whose repo is elsewhere', async () => {
    const { report, mine } = await status();
    expect(mine).toMatchObject({ state: 'not deployed here', services: [], rollbackTargets: [] });
    const ghost = report.products.find((p) => p.product === `${prefix}-ghost`);
    expect(ghost?.state).toBe('not deployed here');
    expect(ghost?.reason).toContain(`repo: /nonexistent/${prefix}-ghost does not exist`);
  });

  it('after deploys: the running tag, image and digest, who deployed it, and what to roll back to', async () => {
    for (const tag of ['v1', 'v2']) {
      const deploy = await product.berth([product.name, '--tag', tag]);
      expect(deploy.exitCode, deploy.stderr).toBe(0);
    }
    const { mine } = await status();
    expect(mine.state).toBe('running');
    expect(mine.release).toMatchObject({ tag: 'v2', kind: 'deploy', who: 'berth-test' });
    await expectMatchesContainers(mine, 'v2');
    expect(mine.services[0]?.deployKind).toBe('deploy');
    expect(mine.rollbackTargets.map((t) => [t.tag, t.images])).toEqual([['v1', 'local']]);
  });

  it('after a rollback: the restored release, recorded as a rollback', async () => {
    const rollback = await product.berth([product.name, 'v1'], { script: 'rollback' });
    expect(rollback.exitCode, rollback.stderr).toBe(0);
    const { mine } = await status();
    expect(mine.release).toMatchObject({ tag: 'v1', kind: 'rollback' });
    await expectMatchesContainers(mine, 'v1');
    expect(mine.services[0]?.deployKind).toBe('rollback');
    expect(mine.rollbackTargets.map((t) => t.tag)).toEqual(['v2']);

    // A release whose images are gone locally is still a target while the registry has it.
    await rigRunner.run(['docker', 'image', 'rm', `${product.repository('web')}:v2`]);
    const again = await status();
    expect(again.mine.rollbackTargets.map((t) => [t.tag, t.images])).toEqual([['v2', 'registry']]);
  });

  it('the human form names every product, and a single product can be asked for', async () => {
    const all = await product.berth([], { script: 'status' });
    expect(all.exitCode, all.stderr).toBe(0);
    // The table is the result: stdout alone, so `status | grep` and `2>/dev/null` keep it.
    expect(all.stderr).toBe('');
    expect(all.stdout).toMatch(new RegExp(`^${prefix}: running, release v1 rollback by berth-test`, 'm'));
    expect(all.stdout).toMatch(new RegExp(`^${prefix}-ghost: not deployed here`, 'm'));
    expect(all.stdout).toMatch(/rollback to: v2 \(pull\)/);

    const one = await product.berth([product.name, '--json'], { script: 'status' });
    expect((JSON.parse(one.stdout) as StatusReport).products.map((p) => p.product)).toEqual([product.name]);
    const unknown = await product.berth(['nope'], { script: 'status' });
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/^error: unknown product nope: use one of/m);
  });

  it('a product whose definition is wrong is an error: reported with the fix, the rest still shown, exit 2', async () => {
    const broken = join(product.productsDir, `${prefix}-broken.mts`);
    writeFileSync(
      broken,
      // Not on this machine either: a wrong definition is an error all the same.
      `export default { name: '${prefix}-broken', repo: '/nonexistent/${prefix}-broken', composeFiles: ['compose.yaml'], services: { web: { kind: 'webserver' } } };\n`,
    );
    try {
      const json = await product.berth(['--json'], { script: 'status' });
      expect(json.exitCode).toBe(2);
      const report = JSON.parse(json.stdout) as StatusReport;
      const states = Object.fromEntries(report.products.map((p) => [p.product, p.state]));
      expect(states).toMatchObject({ [product.name]: 'running', [`${prefix}-ghost`]: 'not deployed here', [`${prefix}-broken`]: 'error' });
      const shown = report.products.find((p) => p.product === `${prefix}-broken`);
      expect(shown?.reason).toMatch(/^services\.web\.kind: /);
      const errors = json.stderr.split('\n').filter((l) => l.startsWith('error:'));
      expect(errors).toEqual([
        expect.stringMatching(new RegExp(`^error: ${prefix}-broken: services\\.web\\.kind: .*: fix that field and rerun$`)),
      ]);

      const human = await product.berth([], { script: 'status' });
      expect(human.exitCode).toBe(2);
      expect(human.stdout).toMatch(new RegExp(`^${prefix}-broken: error \\(services\\.web\\.kind: `, 'm'));
      expect(human.stdout).toMatch(new RegExp(`^${prefix}: running`, 'm'));
    } finally {
      rmSync(broken, { force: true });
    }
  });
});
