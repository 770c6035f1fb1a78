// Faults between deploys, on the real engine, each under a steady bounded load loop whose failed
// requests and longest gap go to the test output: the proxy container gone, its upstream file
// corrupted by hand, a deploy while it restarts, the state dir removed, and a deploy SIGKILLed in
// its smoke window then rerun. One product, deployed once, shared by every fault in order.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnDetached } from '../../lib/dev/daemon.mts';
import { startLoad, type LoadReport } from '../../lib/dev/load-loop.mts';
import { listContainers } from '../../lib/engine/engine.mts';
import { parseUpstreams } from '../../lib/deploy/proxy.mts';
import { readLedger } from '../../lib/releases/ledger.mts';
import { makeFixtureProduct, proxyService, type FixtureProduct } from '../rig/fixture-product.mts';
import { engineAvailable, rigRunner, usePrefix, useRegistry } from '../rig/index.mts';

/** A free loopback port: the proxy publishes a fixed one, so a recreated proxy answers where the load loop asks. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

describe.skipIf(!engineAvailable)('repair between deploys', () => {
  const prefix = usePrefix();
  const registry = useRegistry();
  let product: FixtureProduct;
  let url: string;

  const stateDir = () => join(product.stateDir, product.name);
  const upstreamPath = () => join(stateDir(), 'upstreams', 'web.caddy');
  const deploy = (tag: string) => product.berth([product.name, '--tag', tag]);
  const repair = (...args: string[]) => product.berth([product.name, ...args], { script: 'repair' });
  const status = () => product.berth([product.name], { script: 'status' });
  const proxyContainer = async () => (await listContainers(rigRunner, product.name, 'proxy', true)).at(-1);
  const webContainers = async () => (await listContainers(rigRunner, product.name, 'web')).filter((c) => c.running);
  const answer = async () => {
    try {
      return await (await fetch(url, { signal: AbortSignal.timeout(3_000) })).text();
    } catch {
      return 'no answer';
    }
  };

  /** Runs `work` under load; prints the fault's figures. */
  async function underLoad<T>(fault: string, work: () => Promise<T>): Promise<{ value: T; report: LoadReport }> {
    const load = startLoad(url, { concurrency: 2, ratePerSecond: 100, maxMs: 300_000, requestTimeoutMs: 3_000 });
    const finish = async () => {
      const report = await load.stop();
      console.log(
        `[compose ${process.env.BERTH_COMPOSE ?? 'auto'}] ${fault}: ${report.requests} requests, ${report.failed} failed, longest gap ${Math.round(report.longestGapMs)} ms`,
      );
      return report;
    };
    try {
      const value = await work();
      return { value, report: await finish() };
    } catch (error) {
      await finish();
      throw error;
    }
  }

  beforeAll(async () => {
    const port = await freePort();
    const proxy = proxyService(prefix);
    const [, ...rest] = proxy.spec.compose ?? [];
    product = await makeFixtureProduct({
      prefix,
      registry: registry.address,
      services: {
        // Restarts on its own, as production proxies do: a broken config makes it loop.
        proxy: { ...proxy.spec, compose: [`ports: ["127.0.0.1:${port}:80"]`, 'restart: unless-stopped', ...rest] },
        web: { product: `health: { path: '/healthz', port: 8080, timeoutSeconds: 20 }, drainSeconds: 0.2` },
      },
      files: proxy.files,
      productExtra: `  smoke: [{ path: '/version', status: 200, contains: '{tag}' }],
  monitorSeconds: 3,`,
    });
    await product.pushProxy();
    await product.pushApp('web', 'v1');
    await product.pushApp('web', 'v2');
    await product.pushApp('web', 'v3');
    await product.pushApp('web', 'v4');
    const first = await deploy('v1');
    expect(first.exitCode, first.stderr).toBe(0);
    url = `http://127.0.0.1:${port}/version`;
    expect(await answer()).toBe('v1');
  }, 300_000);
  afterAll(() => product?.remove());

  it('proxy container removed: status says so, repair brings it back through Compose', async () => {
    const { value } = await underLoad('proxy container removed', async () => {
      await sleep(300);
      await rigRunner.run(['docker', 'rm', '--force', (await proxyContainer())?.id ?? '']);
      const seen = await status();
      expect(seen.exitCode).toBe(1);
      expect(seen.stdout).toContain('drift: proxy is not running: no container');
      const dry = await repair('--dry-run');
      expect(dry.exitCode, dry.stderr).toBe(0);
      expect(dry.stdout).toContain('would start proxy through Compose');
      expect(await proxyContainer()).toBeUndefined();
      const repaired = await repair();
      await sleep(300);
      return repaired;
    });
    expect(value.exitCode, value.stderr).toBe(0);
    expect(value.stdout).toContain('proxy: started through Compose with IMAGE_TAG=v1');
    expect(await answer()).toBe('v1');
    expect((await status()).exitCode).toBe(0);
  });

  it('upstream file corrupted by hand: status reports it, repair rewrites it by name and reloads', async () => {
    const { value, report } = await underLoad('upstream file corrupted by hand', async () => {
      writeFileSync(upstreamPath(), 'this is not caddy\n');
      const seen = await status();
      expect(seen.stdout).toContain("drift: web's upstream file is not what berth writes");
      return repair();
    });
    expect(value.exitCode, value.stderr).toBe(0);
    expect(value.stdout).toContain('proxy: reloaded');
    const [web] = await webContainers();
    expect(parseUpstreams(readFileSync(upstreamPath(), 'utf8'))).toEqual([`${web?.name}:8080`]);
    // Caddy kept its last good config in memory: the site never went down.
    expect(report.ok).toBeGreaterThan(0);
    expect(await answer()).toBe('v1');
  });

  it('a deploy while the proxy restarts in a loop repairs it first and succeeds', async () => {
    const { value } = await underLoad('deploy while the proxy is restarting', async () => {
      writeFileSync(upstreamPath(), 'this is not caddy\n');
      const proxy = await proxyContainer();
      await rigRunner.run(['docker', 'restart', '--time', '1', proxy?.id ?? '']);
      // Looping: it has exited and been restarted by its policy at least twice.
      const deadline = Date.now() + 30_000;
      while (((await proxyContainer())?.restartCount ?? 0) < 2 && Date.now() < deadline) await sleep(100);
      expect((await proxyContainer())?.restartCount).toBeGreaterThanOrEqual(2);
      const seen = await status();
      expect(seen.exitCode).toBe(1);
      expect(seen.stdout).toMatch(/drift: proxy restarting: .+/);
      return deploy('v2');
    });
    expect(value.exitCode, value.stderr).toBe(0);
    expect(value.stderr).toMatch(/proxy restarting: /);
    expect(value.stderr).not.toMatch(/is restarting, wait until the container is running|OCI runtime exec failed/);
    expect(await answer()).toBe('v2');
    expect(readLedger(stateDir()).at(-1)).toMatchObject({ tag: 'v2', result: 'ok' });
  });

  it('state dir removed: repair rebuilds the routes from the running containers and says the history is gone', async () => {
    const { value } = await underLoad('state dir removed', async () => {
      rmSync(stateDir(), { recursive: true, force: true });
      const seen = await status();
      expect(seen.stdout).toMatch(/drift: .*no ledger/);
      const repaired = await repair();
      await sleep(300);
      return repaired;
    });
    expect(value.exitCode, value.stderr).toBe(0);
    expect(value.stdout).toMatch(/its release history is gone and rollback has nothing to go back to until the next deploy/);
    const [web] = await webContainers();
    expect(parseUpstreams(readFileSync(upstreamPath(), 'utf8'))).toEqual([`${web?.name}:8080`]);
    // The proxy's mount still held the deleted directory: a reload could not read the new file.
    expect(value.stdout).toMatch(/proxy: reload failed \(.*\); restarting it/);
    expect(await answer()).toBe('v2');
    // The next deploy records history again.
    const next = await deploy('v2');
    expect(next.exitCode, next.stderr).toBe(0);
    expect(readLedger(stateDir()).at(-1)).toMatchObject({ tag: 'v2', result: 'ok' });
  });

  /** The container the upstream file routes to: by a name only it holds (the routed name, or its Compose name). */
  async function servingId(): Promise<string | undefined> {
    const names = parseUpstreams(readFileSync(upstreamPath(), 'utf8')).map((a) => a.split(':')[0]);
    return (await webContainers()).find((c) => names.includes(c.name))?.id;
  }

  /** Starts a deploy of `tag` and SIGKILLs it once it has switched and runs its smoke checks. */
  async function killInSmokeWindow(tag: string): Promise<void> {
    const script = fileURLToPath(new URL('../../scripts/deploy.mts', import.meta.url));
    const log = join(tmpdir(), `${prefix}-killed-${tag}-${Date.now()}.log`);
    const before = await servingId();
    const berth = spawnDetached([process.execPath, script, product.name, '--tag', tag], {
      logFile: log,
      env: { ...product.env, NO_COLOR: '1' },
    });
    // Switched: the upstream file names the new container; smoke and the monitor window run now.
    const deadline = Date.now() + 60_000;
    const switched = async () => (await servingId()) !== before;
    const smoking = () => readFileSync(log, 'utf8').includes('==> smoke checks');
    while (!(smoking() && (await switched())) && Date.now() < deadline) await sleep(20);
    process.kill(berth.pid, 'SIGKILL');
    while (berth.running()) await sleep(20);
    rmSync(log, { force: true });
    expect(await switched()).toBe(true);
    expect(readLedger(stateDir()).filter((r) => r.tag === tag && r.result === 'ok')).toEqual([]);
    expect(await webContainers()).toHaveLength(2);
  }

  it('a deploy SIGKILLed in its smoke window, rerun: the release it switched to is health- and smoke-checked before it is recorded', async () => {
    const { value } = await underLoad('deploy SIGKILLed in its smoke window, rerun', async () => {
      await killInSmokeWindow('v3');
      return deploy('v3');
    });
    expect(value.exitCode, value.stderr).toBe(0);
    expect(value.stderr).toContain('web serves v3, which the ledger does not record as ok');
    expect(value.stderr).toContain('web: v3 passed its health and smoke checks');
    expect(readLedger(stateDir()).at(-1)).toMatchObject({ tag: 'v3', result: 'ok' });
    expect(await webContainers()).toHaveLength(1);
    expect(await answer()).toBe('v3');
  });

  it('a deploy SIGKILLed in its smoke window, then repair: a release failing its re-check goes back to the ledger release; one passing is recorded', async () => {
    const file = join(product.productsDir, `${product.name}.mts`);
    const definition = readFileSync(file, 'utf8');
    const { value } = await underLoad('deploy SIGKILLed in its smoke window, then repair', async () => {
      await killInSmokeWindow('v4');
      // The smoke check now wants what no release answers: v4 must fail its re-check.
      writeFileSync(file, definition.replace("contains: '{tag}'", "contains: 'never-{tag}'"));
      let failed;
      try {
        failed = await repair();
      } finally {
        writeFileSync(file, definition);
      }
      expect(failed.exitCode, failed.stderr).toBe(0);
      expect(failed.stdout).toMatch(/web: v4 failed its re-check \(smoke check failed: .*\); traffic is back on .*, the ledger's release/);
      expect(await answer()).toBe('v3');
      expect(readLedger(stateDir()).findLast((r) => r.result === 'ok')).toMatchObject({ tag: 'v3' });

      await killInSmokeWindow('v4');
      return repair();
    });
    expect(value.exitCode, value.stderr).toBe(0);
    expect(value.stdout).toContain('web: v4 passed its health and smoke checks');
    expect(readLedger(stateDir()).at(-1)).toMatchObject({ tag: 'v4', result: 'ok', kind: 'repair' });
    expect(await webContainers()).toHaveLength(1);
    expect(await answer()).toBe('v4');
  });
});
