// Retiring a product on the real engine: the plan alone changes nothing, --yes removes its
// containers, networks and images and keeps its named volume, --volumes takes the volume too, and
// a held deploy lock refuses it all.
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RetireResult } from '../../lib/ops/retire.mts';
import { makeFixtureProduct, type FixtureProduct } from '../rig/fixture-product.mts';
import { engineAvailable, listPrefixed, rigRunner, usePrefix, useRegistry, type Prefixed } from '../rig/index.mts';

const HEALTH = `health: { path: '/healthz', port: 8080, timeoutSeconds: 20 }`;

describe.skipIf(!engineAvailable)('retire on the real engine', () => {
  const prefix = usePrefix();
  const registry = useRegistry();
  let product: FixtureProduct;
  let productState: string;

  const retire = (args: string[]) => product.berth([product.name, ...args], { script: 'retire' });
  /** What the engine has of ours, in a stable order, images only of the product's repositories. */
  const snapshot = async (): Promise<Omit<Prefixed, 'services'>> => {
    const found = await listPrefixed(prefix);
    const ours = (ref: string) => ref.startsWith(`${product.repository('web')}:`) || ref.startsWith(`${product.repository('db')}:`);
    return {
      containers: [...found.containers].sort(),
      networks: [...found.networks].sort(),
      volumes: [...found.volumes].sort(),
      images: found.images.filter(ours).sort(),
    };
  };

  beforeAll(async () => {
    product = await makeFixtureProduct({
      prefix,
      registry: registry.address,
      services: { web: { product: HEALTH }, db: { kind: 'stateful' } },
      files: {
        'compose.yaml': [
          'services:',
          '  web:',
          `    image: \${REGISTRY}/${prefix}-web:\${IMAGE_TAG:-latest}`,
          '  db:',
          `    image: \${REGISTRY}/${prefix}-db:\${IMAGE_TAG:-latest}`,
          '    volumes: ["data:/data"]',
          'volumes:',
          '  data: {}',
          '',
        ].join('\n'),
      },
    });
    productState = join(product.stateDir, product.name);
    await product.pushApp('web', 'v1');
    await product.pushApp('db', 'v1', { version: 'db-1' });
    // A second release's image: retire takes every tag of the product's repositories, not only what runs.
    await product.pushApp('web', 'v0', { version: 'web-0', unique: true });
    const deploy = await product.berth([product.name, '--tag', 'v1']);
    expect(deploy.exitCode, deploy.stderr).toBe(0);
  });
  afterAll(async () => {
    await product?.remove();
  });

  it('is refused while a deploy holds the lock, and changes nothing', async () => {
    const before = await snapshot();
    const lockDir = join(productState, 'lock');
    mkdirSync(lockDir, { recursive: true });
    writeFileSync(
      join(lockDir, 'holder.json'),
      JSON.stringify({ who: 'alice', host: hostname(), pid: process.pid, started: new Date().toISOString(), tag: 'v2', action: 'deploy' }),
    );
    try {
      const result = await retire(['--yes']);
      expect(result.exitCode, result.stderr).toBe(4);
      const errors = result.stderr.split('\n').filter((l) => l.startsWith('error:'));
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(new RegExp(`^error: ${product.name} is locked by alice@.*deploy v2`));
    } finally {
      rmSync(lockDir, { recursive: true, force: true });
    }
    expect(await snapshot()).toEqual(before);
  });

  it('without --yes prints the plan, changes nothing and exits 2 asking for --yes', async () => {
    const before = await snapshot();
    expect(before.containers).toHaveLength(2);
    expect(before.networks).toEqual([`${prefix}_default`]);
    expect(before.volumes).toEqual([`${prefix}_data`]);
    expect(before.images).toEqual(
      expect.arrayContaining([`${product.repository('db')}:v1`, `${product.repository('web')}:v0`, `${product.repository('web')}:v1`]),
    );

    const result = await retire(['--json']);
    expect(result.exitCode).toBe(2);
    const lastLine = result.stderr.trim().split('\n').at(-1);
    expect(lastLine).toBe(`error: nothing was changed; retiring ${product.name} removes what the plan above lists: rerun with --yes`);
    expect(result.stderr).toContain(`  volumes     ${prefix}_data: kept, with their data (--volumes removes them)`);
    expect(result.stderr).toContain(`  networks    ${prefix}_default: removed`);
    const { plan, retired } = JSON.parse(result.stdout) as RetireResult;
    expect(retired).toBe(false);
    expect(plan.containers.map((c) => [c.service, c.state])).toEqual([
      ['db', 'running'],
      ['web', 'running'],
    ]);
    expect(plan.networks).toEqual([`${prefix}_default`]);
    expect(plan.volumes).toEqual([{ name: `${prefix}_data`, action: 'keep' }]);
    expect([...plan.images].sort()).toEqual(before.images);
    expect(plan.routes).toBeUndefined();
    expect(plan.state.action).toBe('archive');

    expect(await snapshot()).toEqual(before);
    expect(existsSync(join(productState, 'releases.jsonl'))).toBe(true);
  });

  it('--dry-run --yes prints the exact commands and changes nothing', async () => {
    const before = await snapshot();
    const result = await retire(['--yes', '--dry-run']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/dry run: would run docker stop [0-9a-f]{64} [0-9a-f]{64}/);
    expect(result.stderr).toContain(`dry run: would run docker network rm ${prefix}_default`);
    expect(result.stderr).toContain(`dry run: would run docker image rm ${product.repository('web')}:v0`);
    expect(result.stderr).not.toContain('docker volume rm');
    expect(await snapshot()).toEqual(before);
    expect(existsSync(join(productState, 'releases.jsonl'))).toBe(true);
  });

  it('--yes removes its containers, network and images, keeps its named volume, and archives the ledger', async () => {
    const result = await retire(['--yes']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toContain(`${product.name} is retired`);
    expect(await snapshot()).toEqual({ containers: [], networks: [], volumes: [`${prefix}_data`], images: [] });
    expect(existsSync(join(productState, 'releases.jsonl'))).toBe(false);
    const archives = readdirSync(join(productState, 'retired'));
    expect(archives).toHaveLength(1);
    expect(existsSync(join(productState, 'retired', archives[0] as string, 'releases.jsonl'))).toBe(true);
    // The lock is released: nothing of a retire is left holding the product.
    expect(existsSync(join(productState, 'lock'))).toBe(false);
  });

  it('--volumes removes the named volume it kept', async () => {
    // Only a kept volume left: nothing to do without --volumes, and it says what it kept.
    const again = await retire(['--yes']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stderr).toContain(`nothing to remove; kept: ${prefix}_data (--volumes removes them)`);
    const plan = await retire(['--volumes']);
    expect(plan.exitCode).toBe(2);
    expect(plan.stderr).toContain(`  volumes     ${prefix}_data: REMOVED with their data (--volumes)`);
    expect(await snapshot()).toMatchObject({ volumes: [`${prefix}_data`] });

    const result = await retire(['--yes', '--volumes']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toContain(`  volumes     ${prefix}_data: REMOVED with their data (--volumes)`);
    expect(await snapshot()).toEqual({ containers: [], networks: [], volumes: [], images: [] });
    expect((await rigRunner.probe(['docker', 'volume', 'inspect', `${prefix}_data`])).exitCode).not.toBe(0);
  });

  it('refuses a missing or unknown product with one line naming the fix', async () => {
    const none = await product.berth([], { script: 'retire' });
    expect(none.exitCode).toBe(2);
    expect(none.stderr.trim().split('\n').at(-1)).toBe('error: which product?: name it: scripts/retire.mts <product>');
    const unknown = await product.berth(['nosuch', '--yes'], { script: 'retire' });
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/error: unknown product 'nosuch'|error: unknown product nosuch/);
  });
});
