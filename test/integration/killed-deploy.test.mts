// SIGKILL of berth in each step of a deploy, then the same deploy again, under a steady bounded
// load loop: the site never stops answering, and the rerun converges on the release it was asked
// for (one container of each service, the upstream file naming it, the ledger's newest `ok`).
// One product with its own Caddy, deployed once; each step's row deploys the other release.
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnDetached } from '../../lib/dev/daemon.mts';
import { parseUpstreams } from '../../lib/deploy/proxy.mts';
import { listContainers } from '../../lib/engine/engine.mts';
import { readLedger } from '../../lib/releases/ledger.mts';
import { makeProxiedProduct, type FixtureProduct } from '../rig/fixture-product.mts';
import { engineAvailable, rigRunner, underLoad, usePrefix, useRegistry } from '../rig/index.mts';

/** Every step a deploy that replaces web runs, by the title its `==>` line shows. */
const STEPS = [
  'check out the release',
  'preflight',
  'repair proxy, routes and leftovers',
  'select services',
  'detect changes',
  'pull images',
  'compare images',
  'run migrations',
  'start new containers',
  'wait until healthy',
  'switch traffic',
  'smoke checks',
  'drain and remove old containers',
  'record release',
];

describe.skipIf(!engineAvailable)('berth SIGKILLed in each deploy step, then rerun', () => {
  const prefix = usePrefix();
  const registry = useRegistry();
  const script = fileURLToPath(new URL('../../scripts/deploy.mts', import.meta.url));
  let product: FixtureProduct;
  let url: string;
  let tag = 'v1';
  const figures: string[] = [];

  const stateDir = () => join(product.stateDir, product.name);
  const running = async (service: string) => (await listContainers(rigRunner, product.name, service)).filter((c) => c.running);

  /** Starts a deploy of `next` and SIGKILLs it once its log shows the step began; whether the
   *  kill landed in that step (a short step may be over by then) is for the figures only. */
  async function killAt(step: string, next: string): Promise<void> {
    const log = join(tmpdir(), `${prefix}-killed-${Date.now()}.log`);
    const berth = spawnDetached([process.execPath, script, product.name, '--tag', next], {
      logFile: log,
      env: { ...product.env, NO_COLOR: '1' },
    });
    const started = () => readFileSync(log, 'utf8').includes(`==> ${step}`);
    const deadline = Date.now() + 60_000;
    try {
      while (!started() && berth.running() && Date.now() < deadline) await sleep(10);
      expect(started(), readFileSync(log, 'utf8')).toBe(true);
    } finally {
      if (berth.running()) process.kill(berth.pid, 'SIGKILL');
      while (berth.running()) await sleep(10);
      rmSync(log, { force: true });
    }
  }

  beforeAll(async () => {
    product = await makeProxiedProduct({
      prefix,
      registry: registry.address,
      productExtra: `  smoke: [{ path: '/version', status: 200, contains: '{tag}' }],
  monitorSeconds: 0.5,
  migrate: { service: 'web', command: ['true'] },`,
    });
    await product.pushApp('web', 'v1');
    await product.pushApp('web', 'v2');
    const first = await product.berth([product.name, '--tag', tag]);
    expect(first.exitCode, first.stderr).toBe(0);
    url = await product.proxyUrl();
  }, 300_000);
  afterAll(async () => {
    if (figures.length > 0) console.log(`killed deploys (failed requests, longest gap):\n  ${figures.join('\n  ')}`);
    await product?.remove();
  });

  it.each(STEPS)(
    'killed at "%s": the site keeps answering and the rerun converges',
    async (step) => {
      const next = tag === 'v1' ? 'v2' : 'v1';
      const { value: rerun, report } = await underLoad(
        url,
        async () => {
          await killAt(step, next);
          return product.berth([product.name, '--tag', next]);
        },
        { maxMs: 240_000 },
      );
      figures.push(`${step}: ${report.failed} failed of ${report.requests}, longest gap ${report.longestGapMs} ms`);
      const seen = JSON.stringify({ ...report, bodies: report.bodies, errors: report.errors.slice(0, 5) });
      expect(rerun.exitCode, rerun.stderr).toBe(0);
      // A Caddy reload may reset one connection being opened at its instant (see LoadReport).
      expect(report.failed - report.newConnectionResets, seen).toBe(0);
      expect(report.newConnectionResets, seen).toBeLessThanOrEqual(1);
      const web = await running('web');
      expect(web.map((c) => c.image.split(':').pop())).toEqual([next]);
      expect(await running('proxy')).toHaveLength(1);
      const upstreams = parseUpstreams(readFileSync(join(stateDir(), 'upstreams', 'web.caddy'), 'utf8'));
      expect(upstreams).toEqual([`${web[0]?.name}:8080`]);
      expect(readLedger(stateDir()).findLast((r) => r.result === 'ok')).toMatchObject({ tag: next });
      expect(await (await fetch(url)).text()).toBe(next);
      tag = next;
    },
    300_000,
  );
});
