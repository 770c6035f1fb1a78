// The core deploy path on the real engine: pull by tag, replace only what changed, health, ledger,
// lock, and bad input refused before anything is touched.
import { mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineAvailable, rigRunner, usePrefix, useRegistry } from '../rig/index.mts';
import { makeFixtureProduct, type FixtureProduct, runningContainers, servedVersion } from '../rig/fixture-product.mts';
import { listContainers } from '../../lib/engine/engine.mts';
import { readLedger } from '../../lib/releases/ledger.mts';

const HEALTH = `health: { path: '/healthz', port: 8080, timeoutSeconds: 8 }`;

describe.skipIf(!engineAvailable)('deploy on the real engine', () => {
  const prefix = usePrefix();
  const registry = useRegistry();
  let product: FixtureProduct;

  beforeAll(async () => {
    product = await makeFixtureProduct({
      prefix,
      registry: registry.address,
      services: { web: { product: HEALTH }, api: { product: HEALTH } },
    });
    await product.pushApp('web', 'v1');
    await product.pushApp('api', 'v1', { version: 'api-1' });
    await product.pushApp('web', 'v2');
    await product.retag('api', 'v1', 'v2');
    await product.pushApp('web', 'v3', { healthy: false });
    await product.retag('api', 'v1', 'v3');
  });
  afterAll(() => product?.remove());

  it('deploys v1, then v2 replaces only the service whose image changed', async () => {
    const first = await product.berth([product.name, '--tag', 'v1', '--json']);
    expect(first.stderr).not.toMatch(/error:/);
    expect(first.exitCode).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ result: 'ok', changed: ['web', 'api'] });
    expect(await servedVersion(product, 'web')).toBe('v1');
    const [apiBefore] = await runningContainers(product, 'api');

    const second = await product.berth([product.name, '--tag', 'v2', '--json']);
    expect(second.exitCode).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ result: 'ok', changed: ['web'] });
    expect(await servedVersion(product, 'web')).toBe('v2');
    const [apiAfter] = await runningContainers(product, 'api');
    expect(apiAfter?.id).toBe(apiBefore?.id);

    const ledger = readLedger(join(product.stateDir, product.name));
    expect(ledger.map((r) => [r.tag, r.result])).toEqual([
      ['v1', 'ok'],
      ['v2', 'ok'],
    ]);
    expect(ledger[1]?.services.web?.digest).toMatch(new RegExp(`^${registry.address}/${prefix}-web@sha256:`));
    expect(ledger[1]?.who).toBe('berth-test');
  });

  it('fails a release whose healthcheck never passes, prints the health log, brings the previous one back and records both', async () => {
    const result = await product.berth([product.name, '--tag', 'v3']);
    expect(result.exitCode).toBe(5);
    expect(result.stderr).toMatch(/web .* (is unhealthy|not healthy)/);
    expect(result.stderr).toContain('health log:');
    expect(result.stderr).toContain('last log lines');
    // No proxy in this fixture, so web was replaced stop-first: the undo starts v2 again.
    expect(result.stderr).toContain('bringing web back at v2');
    expect(await servedVersion(product, 'web')).toBe('v2');
    const ledger = readLedger(join(product.stateDir, product.name));
    expect(ledger.slice(-2)).toMatchObject([
      { tag: 'v3', result: 'rolled-back' },
      { tag: 'v2', result: 'ok', kind: 'auto-rollback' },
    ]);
    expect(ledger.at(-2)?.error).toMatch(/^health:/);
  });

  it('refuses a second deploy of the same product while the lock is held, naming the holder', async () => {
    const lockDir = join(product.stateDir, product.name, 'lock');
    mkdirSync(lockDir, { recursive: true });
    // The holder is this test process: alive, so the lock is not stale.
    writeFileSync(
      join(lockDir, 'holder.json'),
      JSON.stringify({ who: 'alice', host: hostname(), pid: process.pid, started: new Date().toISOString(), tag: 'v9', action: 'deploy' }),
    );
    const before = (await runningContainers(product, 'web')).map((c) => c.id);
    try {
      const result = await product.berth([product.name, '--tag', 'v2']);
      expect(result.exitCode).toBe(4);
      expect(result.stderr).toMatch(/is locked by alice@.*pid \d+.*v9/);
      expect(result.stderr).toContain('--wait');
    } finally {
      await rigRunner.run(['rm', '-rf', lockDir]);
    }
    expect((await runningContainers(product, 'web')).map((c) => c.id)).toEqual(before);
  });

  it('refuses bad input with one line naming the fix and touches no container', async () => {
    const before = (await listContainers(rigRunner, product.name, undefined, true)).map((c) => c.id).sort();
    const cases: [string[], Record<string, string>, number, RegExp][] = [
      [['no-such-product'], {}, 2, /unknown product 'no-such-product': use one of/],
      [[product.name, '--tag', 'v2', '--only', 'web,nope'], {}, 2, /unknown service nope in --only .*: use web, api/],
      [[product.name, '--tag', 'v2'], { DOCKER_HOST: 'unix:///nonexistent/docker.sock' }, 3, /not reachable: start it/],
      [[product.name, '--tag', 'v2', '--bogus'], {}, 2, /Unknown option '--bogus'/],
    ];
    for (const [args, env, code, message] of cases) {
      const result = await product.berth(args, { env });
      expect(result.exitCode, args.join(' ')).toBe(code);
      const errors = result.stderr.split('\n').filter((l) => l.startsWith('error:'));
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(message);
    }
    const after = (await listContainers(rigRunner, product.name, undefined, true)).map((c) => c.id).sort();
    expect(after).toEqual(before);
  });

  it('deploys --only web and says which left-out service a hand-run compose up would move to the new tag', async () => {
    await product.pushApp('web', 'v4');
    await product.retag('api', 'v1', 'v4');
    const [apiBefore] = await runningContainers(product, 'api');
    const result = await product.berth([product.name, '--tag', 'v4', '--only', 'web']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(await servedVersion(product, 'web')).toBe('v4');
    // api was never recreated since v1: its container still names that tag.
    expect(result.stderr).toMatch(
      /names v4 for every service, but api runs v1 \(left out by --only\): a hand-run compose up there would move it to v4/,
    );
    expect((await runningContainers(product, 'api'))[0]?.id).toBe(apiBefore?.id);
  });

  it('reports every error of a malformed product file at once, with paths', async () => {
    writeFileSync(
      join(product.productsDir, 'broken.mts'),
      `export default { name: 'broken', repo: 7, composeFiles: [], services: { web: { kind: 'http', health: { path: 'healthz' } } } };\n`,
    );
    writeFileSync(join(product.productsDir, 'unparsable.mts'), `export default {{ nope\n`);
    const invalid = await product.berth(['broken']);
    expect(invalid.exitCode).toBe(2);
    expect(invalid.stderr).toContain('repo: expected a non-empty string');
    expect(invalid.stderr).toContain('composeFiles: expected a non-empty list of strings');
    expect(invalid.stderr).toContain('services.web.health.path: expected a string starting with /');
    const unparsable = await product.berth(['unparsable']);
    expect(unparsable.exitCode).toBe(2);
    expect(unparsable.stderr).toMatch(/unparsable\.mts cannot be loaded .*: fix the syntax/);
  });
});
