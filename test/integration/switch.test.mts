// The gapless switch behind a real Caddy, under a bounded load loop: no failed request, no new
// version before it is healthy, bad releases never kept, and a killed deploy that converges.
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnDetached } from '../../lib/dev/daemon.mts';
import { listContainers } from '../../lib/engine/engine.mts';
import { parseUpstreams } from '../../lib/deploy/proxy.mts';
import { readLedger } from '../../lib/releases/ledger.mts';
import { makeProxiedProduct, type FixtureProduct } from '../rig/fixture-product.mts';
import { engineAvailable, rigRunner, underLoad as underLoadOf, usePrefix, useRegistry } from '../rig/index.mts';

const SWITCHES = 20;

describe.skipIf(!engineAvailable)('gapless switch behind Caddy', () => {
  const prefix = usePrefix();
  const registry = useRegistry();
  let product: FixtureProduct;
  let url: string;

  const webContainers = async () => (await listContainers(rigRunner, product.name, 'web', true)).filter((c) => c.running);
  const upstreams = () => parseUpstreams(readFileSync(join(product.stateDir, product.name, 'upstreams', 'web.caddy'), 'utf8'));
  const deploy = (tag: string) => product.berth([product.name, '--tag', tag]);
  const ledger = () => readLedger(join(product.stateDir, product.name));

  const underLoad = <T,>(work: () => Promise<T>) => underLoadOf(url, work);

  beforeAll(async () => {
    product = await makeProxiedProduct({
      prefix,
      registry: registry.address,
      productExtra: `  smoke: [{ path: '/version', status: 200, contains: '{tag}' }],
  monitorSeconds: 0.5,
  migrate: { service: 'web', command: ['sh', '-c', '! grep -q migration-breaks /app/run.sh'] },`,
    });
    await product.pushApp('web', 'v1');
    // v2 serves at once but reports healthy only after 1.5 s: traffic must wait for the latter.
    await product.pushApp('web', 'v2', { healthyDelaySeconds: 1.5 });
    await product.pushApp('web', 'v3', { healthy: false });
    await product.pushApp('web', 'v4', { version: 'not-what-smoke-wants' });
    await product.pushApp('web', 'v5', { version: 'v5-migration-breaks' });
    // Healthy only after 2.5 s (inside Docker's 3 retries at 1 s): a window to kill berth mid-switch.
    await product.pushApp('web', 'v6', { healthyDelaySeconds: 2.5 });
    await product.pushApp('web', 'v7', { healthyDelaySeconds: 2.5 });

    const first = await deploy('v1');
    expect(first.stderr).not.toContain('error:');
    expect(first.exitCode).toBe(0);
    url = await product.proxyUrl();
  });
  afterAll(() => product?.remove());

  it(`switches v1 <-> v2 ${SWITCHES} times under load with no failed request`, async () => {
    const starts: number[] = [];
    const loadStart = performance.now();
    const { report } = await underLoad(async () => {
      for (let i = 0; i < SWITCHES; i++) {
        const tag = i % 2 === 0 ? 'v2' : 'v1';
        starts.push(performance.now() - loadStart);
        const result = await deploy(tag);
        expect(result.exitCode, result.stderr).toBe(0);
      }
    });
    console.log(
      `${SWITCHES} switches: ${report.requests} requests, ${report.failed} failed, ${report.retried} retried after a reload closed an idle connection, longest gap ${report.longestGapMs} ms, p99 ${report.p99Ms} ms`,
    );
    const seen = JSON.stringify({ starts: starts.map(Math.round), ...report, bodies: undefined });
    // Each switch hands web's routed name over and leaves Caddy's config alone: no reload, so no
    // client connection is closed, and there is nothing for a client to retry.
    expect(report.failed, seen).toBe(0);
    expect(report.retried, seen).toBe(0);
    expect(report.bodies.v1).toBeGreaterThan(0);
    expect(report.bodies.v2).toBeGreaterThan(0);
    // v2 answers /version from its first moment but is healthy only 1.5 s later.
    expect(report.firstSeen.v2).toBeGreaterThan((starts[0] ?? 0) + 1_500);
    const running = await webContainers();
    expect(running).toHaveLength(1);
    expect(running[0]?.name).toBe(`${product.name}-web`);
    expect(upstreams()).toEqual([`${product.name}-web:8080`]);
  }, 900_000);

  it('never sends traffic to an unhealthy release, removes it, and keeps the old one serving', async () => {
    await deploy('v2');
    const before = (await webContainers()).map((c) => c.id);
    const { value: result, report } = await underLoad(() => deploy('v3'));
    expect(result.exitCode).toBe(5);
    expect(result.stderr).toContain('health log:');
    expect(report.failed).toBe(0);
    expect(Object.keys(report.bodies)).toEqual(['v2']);
    expect((await webContainers()).map((c) => c.id)).toEqual(before);
    expect(ledger().at(-1)).toMatchObject({ tag: 'v3', result: 'failed' });
  });

  it('rolls a release that fails its smoke check back automatically', async () => {
    const { value: result, report } = await underLoad(() => deploy('v4'));
    expect(result.exitCode).toBe(5);
    expect(result.stderr).toMatch(/smoke check failed: \/version: body does not contain 'v4'/);
    expect(report.failed).toBe(0);
    expect(await (await fetch(url)).text()).toBe('v2');
    expect(await webContainers()).toHaveLength(1);
    expect(ledger().slice(-2)).toMatchObject([
      { tag: 'v4', result: 'rolled-back' },
      { tag: 'v2', result: 'ok', kind: 'auto-rollback' },
    ]);
  });

  it('aborts on a failing migration with nothing switched', async () => {
    const before = (await webContainers()).map((c) => c.id);
    const { value: result, report } = await underLoad(() => deploy('v5'));
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/FAILED.*run .*sh -c/);
    expect(report.failed).toBe(0);
    expect(Object.keys(report.bodies)).toEqual(['v2']);
    expect((await webContainers()).map((c) => c.id)).toEqual(before);
    expect(ledger().at(-1)).toMatchObject({ tag: 'v5', result: 'failed' });
  });

  it('survives SIGKILL of berth mid-switch: keeps serving, and a rerun converges', async () => {
    const script = fileURLToPath(new URL('../../scripts/deploy.mts', import.meta.url));
    expect((await deploy('v1')).exitCode).toBe(0);
    const { report } = await underLoad(async () => {
      const berth = spawnDetached([process.execPath, script, product.name, '--tag', 'v6'], {
        logFile: join(tmpdir(), `${prefix}-killed.log`),
        env: { ...product.env, NO_COLOR: '1' },
      });
      // Kill it once the new container runs beside the old one: the middle of the switch.
      const deadline = Date.now() + 60_000;
      while ((await webContainers()).length < 2 && Date.now() < deadline) await sleep(50);
      process.kill(berth.pid, 'SIGKILL');
      while (berth.running()) await sleep(20);
      expect((await webContainers()).length).toBe(2);
      await sleep(500);
      const rerun = await deploy('v6');
      expect(rerun.exitCode, rerun.stderr).toBe(0);
    });
    expect(report.failed).toBe(0);
    const running = await webContainers();
    expect(running).toHaveLength(1);
    expect(upstreams()).toEqual([`${running[0]?.name}:8080`]);
    expect(await (await fetch(url)).text()).toBe('v6');
  });

  it('on SIGTERM mid-switch stops at the next safe point and undoes: the old release keeps serving', async () => {
    const script = fileURLToPath(new URL('../../scripts/deploy.mts', import.meta.url));
    const log = join(tmpdir(), `${prefix}-terminated.log`);
    const { report } = await underLoad(async () => {
      const berth = spawnDetached([process.execPath, script, product.name, '--tag', 'v7'], {
        logFile: log,
        env: { ...product.env, NO_COLOR: '1' },
      });
      const deadline = Date.now() + 60_000;
      while ((await webContainers()).length < 2 && Date.now() < deadline) await sleep(50);
      // The signal must land mid-switch: the new replica runs beside the old one.
      expect((await webContainers()).length).toBe(2);
      process.kill(berth.pid, 'SIGTERM');
      while (berth.running()) await sleep(50);
    });
    expect(report.failed).toBe(0);
    expect(readFileSync(log, 'utf8')).toMatch(/error: interrupted by SIGTERM/);
    // Steps begun: up had started, retire and record never did.
    const begun = [...readFileSync(log, 'utf8').matchAll(/^==> (.+)$/gm)].map((m) => m[1]);
    expect(begun).toContain('start new containers');
    expect(begun).not.toContain('drain and remove old containers');
    expect(begun).not.toContain('record release');
    const running = await webContainers();
    expect(running).toHaveLength(1);
    expect(upstreams()).toEqual([`${running[0]?.name}:8080`]);
    expect(await (await fetch(url)).text()).toBe('v6');
    expect(ledger().at(-1)).toMatchObject({ tag: 'v7', result: 'failed', error: expect.stringMatching(/interrupted by SIGTERM/) });
  });
  it('keeps serving the same container after its address changes, with no berth command: upstreams name containers', async () => {
    const [web] = await webContainers();
    const [proxy] = (await listContainers(rigRunner, product.name, 'proxy')).filter((c) => c.running);
    const network = Object.keys(web?.networks ?? {})[0] as string;
    const before = web?.networks[network];
    const served = await (await fetch(url)).text();
    // Move the web container to another network the proxy also joins: same name, another address.
    const alt = `${prefix}-alt`;
    await rigRunner.run(['docker', 'network', 'create', alt]);
    await rigRunner.run(['docker', 'network', 'connect', alt, proxy?.id ?? '']);
    await rigRunner.run(['docker', 'network', 'disconnect', network, web?.id ?? '']);
    await rigRunner.run(['docker', 'network', 'connect', alt, web?.id ?? '']);
    // Another container may take the freed address: traffic sent by IP would reach it.
    const squatter = `${prefix}-squatter`;
    await rigRunner.run([
      'docker',
      'run',
      '-d',
      '--name',
      squatter,
      '--network',
      network,
      '-e',
      'APP_VERSION=squatter',
      `${product.repository('web')}:v1`,
    ]);
    try {
      const [moved] = await webContainers();
      expect(moved?.networks[alt]).toBeTruthy();
      expect(moved?.networks[alt]).not.toBe(before);
      // Joining a second network may move the proxy's ephemeral host port: ask for it again.
      const movedUrl = await product.proxyUrl();
      const answers: string[] = [];
      for (let i = 0; i < 20; i++) answers.push(await (await fetch(movedUrl)).text());
      expect(new Set(answers)).toEqual(new Set([served]));
    } finally {
      await rigRunner.run(['docker', 'rm', '--force', squatter]);
      await rigRunner.run(['docker', 'network', 'disconnect', '--force', alt, web?.id ?? '']);
      await rigRunner.run(['docker', 'network', 'disconnect', '--force', alt, proxy?.id ?? '']);
      await rigRunner.run(['docker', 'network', 'rm', alt]);
    }
  });
});
