// A release CI never built is refused in preflight, naming the newest commit whose images are all
// in the registry, before the checkout stays moved, a container changes, an image is pulled or the
// ledger grows. The fixture repo has c1 (both images pushed, then removed locally, as on a VM) and
// c2 (nothing pushed).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineAvailable, rigRunner, usePrefix, useRegistry } from '../rig/index.mts';
import { makeFixtureProduct, servedVersion, type FixtureProduct } from '../rig/fixture-product.mts';
import { listContainers } from '../../lib/engine/engine.mts';
import { readLedger } from '../../lib/releases/ledger.mts';

const WEB = `health: { path: '/healthz', port: 8080, timeoutSeconds: 20 }`;
const SERVICES = ['web', 'worker'];

describe.skipIf(!engineAvailable)('a release whose images were never pushed', () => {
  const prefix = usePrefix();
  const registry = useRegistry();
  let product: FixtureProduct;
  let c1: string;
  let c2: string;

  const head = () => execFileSync('git', ['-C', product.repo.dir, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  const ledger = () => readLedger(join(product.stateDir, product.name));
  const containers = async () =>
    (await listContainers(rigRunner, product.name, undefined, true)).map((c) => `${c.id} ${c.imageId} ${c.running}`).sort();
  const isLocal = async (tag: string) =>
    (await Promise.all(SERVICES.map((s) => rigRunner.probe(['docker', 'image', 'inspect', `${product.repository(s)}:${tag}`])))).map(
      (r) => r.exitCode === 0,
    );
  const errors = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('error:'));
  const pulls = (stderr: string) => stderr.split('\n').filter((l) => l.trim().startsWith('$ ') && /\spull(\s|$)/.test(l));

  beforeAll(async () => {
    product = await makeFixtureProduct({
      prefix,
      registry: registry.address,
      services: { web: { product: WEB }, worker: { kind: 'worker' } },
    });
    c1 = product.repo.sha;
    for (const service of SERVICES) {
      await product.pushApp(service, c1, { version: `${service}-1` });
      // Only the registry keeps c1's tags: the deploy must find them there.
      await rigRunner.run(['docker', 'image', 'rm', `${product.repository(service)}:${c1}`]);
    }
    c2 = await product.repo.commit({ 'web.txt': 'two\n' }, 'c2: CI never built it');
  });
  afterAll(() => product?.remove());

  const refusal = () =>
    `error: ${c2.slice(0, 12)} has no pushed image for web and worker; nothing was changed: run npx zx scripts/build.mts ${product.name} --push for it, or deploy --tag ${c1.slice(0, 12)}`;

  it('refuses c2 on a first deploy with one line naming c1: nothing created, pulled or recorded', async () => {
    const result = await product.berth([product.name, '--tag', c2, '--verbose']);
    expect(result.exitCode, result.stderr).toBe(2);
    expect(errors(result.stderr)).toEqual([refusal()]);
    expect(result.stderr).not.toMatch(/manifest unknown/);
    expect(pulls(result.stderr)).toEqual([]);
    expect(await containers()).toEqual([]);
    expect(await isLocal(c2)).toEqual([false, false]);
    expect(ledger()).toEqual([]);
  });

  it('deploys c1 from the registry', async () => {
    const result = await product.berth([product.name, '--tag', c1]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(await servedVersion(product, 'web')).toBe('web-1');
    expect(ledger().at(-1)).toMatchObject({ tag: c1, result: 'ok' });
    expect(head()).toBe(c1);
  });

  it('refuses c2 over a running c1, dry run too: containers, checkout and ledger as they were', async () => {
    const before = { containers: await containers(), ledger: ledger() };
    for (const extra of [[], ['--dry-run']]) {
      const result = await product.berth([product.name, '--tag', c2, '--verbose', ...extra]);
      expect(result.exitCode, result.stderr).toBe(2);
      expect(errors(result.stderr)).toEqual([refusal()]);
      expect(pulls(result.stderr)).toEqual([]);
      expect(await containers()).toEqual(before.containers);
      expect(ledger()).toEqual(before.ledger);
      expect(head()).toBe(c1);
    }
    expect(await isLocal(c2)).toEqual([false, false]);
  });
});
