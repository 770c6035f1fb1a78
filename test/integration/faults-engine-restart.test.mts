// The engine restarted between deploys (what a VM reboot does to Docker), on a second engine
// serving a product with its own Caddy under steady load: the containers come back by their
// restart policy with new addresses, and the site answers the deployed release again with no berth
// command, because Caddy's upstreams name containers, not addresses.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listContainers, type ContainerState } from '../../lib/engine/engine.mts';
import { parseUpstreams } from '../../lib/deploy/proxy.mts';
import { freePort } from '../../lib/dev/local-registry.mts';
import { startLoad } from '../../lib/dev/load-loop.mts';
import { readLedger } from '../../lib/releases/ledger.mts';
import { makeFixtureProduct, type FixtureProduct } from '../rig/fixture-product.mts';
import { engineAvailable, usePrefix, useRegistry } from '../rig/index.mts';
import { startSecondEngine, type SecondEngine } from '../rig/second-engine.mts';
import { firstAnswer, vmSiteFiles } from '../rig/vm-site.mts';

describe.skipIf(!engineAvailable)('engine restarted between deploys (second engine, own Caddy, under load)', () => {
  const prefix = usePrefix();
  const registry = useRegistry();
  let vm: SecondEngine;
  let product: FixtureProduct;
  let url: string;

  const deploy = (tag: string) => product.berth([product.name, '--tag', tag], { env: { ...vm.env } });
  const running = async (service: string): Promise<ContainerState> => {
    const [container] = (await listContainers(vm.runner, product.name, service)).filter((c) => c.running);
    if (!container) throw new Error(`no running ${service} container`);
    return container;
  };
  const address = (c: ContainerState) => Object.values(c.networks)[0];

  beforeAll(async () => {
    // --iptables=false would keep Caddy from reaching web on this engine: its own FORWARD rule.
    vm = await startSecondEngine({ forward: true });
    const sitePort = await freePort();
    url = `http://127.0.0.1:${sitePort}/version`;
    product = await makeFixtureProduct({
      prefix,
      registry: registry.address,
      services: {
        proxy: { kind: 'proxy' },
        web: { product: `health: { path: '/healthz', port: 8080, timeoutSeconds: 20 }, drainSeconds: 0.3` },
      },
      files: vmSiteFiles(prefix, sitePort),
    });
    await product.pushProxy();
    await product.pushApp('web', 'v1');
    await product.pushApp('web', 'v2');
    // Healthy only after 15 s: a deploy of it sits in its switch long enough to restart the engine.
    await product.pushApp('web', 'v3', { healthyDelaySeconds: 15 });
    // Two deploys: the web container serving is berth's replica of v2, started after Caddy, so it
    // holds a later address than the two a restart hands out again.
    for (const tag of ['v1', 'v2']) {
      const result = await deploy(tag);
      expect(result.exitCode, result.stderr).toBe(0);
    }
    expect(await firstAnswer(url)).toBe('v2');
  }, 300_000);
  afterAll(async () => {
    await vm?.stop();
    await product?.remove();
  });

  it('comes back on the deployed release with new addresses and no berth command', async () => {
    const ledger = readLedger(join(product.stateDir, product.name));
    const webBefore = await running('web');
    const proxyBefore = await running('proxy');
    // Routes are by container name: nothing in them goes stale when addresses move.
    const upstreams = readFileSync(join(product.stateDir, product.name, 'upstreams', 'web.caddy'), 'utf8');
    expect(parseUpstreams(upstreams)).toEqual([`${webBefore.name}:8080`]);
    expect(upstreams).not.toContain(address(webBefore) ?? 'no address');

    const load = startLoad(url, { concurrency: 2, ratePerSecond: 40, maxMs: 300_000 });
    const started = performance.now();
    let restartedMs = 0;
    try {
      await vm.restart();
      restartedMs = Math.round(performance.now() - started);
      expect(await firstAnswer(url)).toBe('v2');
    } finally {
      const answeredMs = Math.round(performance.now() - started);
      // A few seconds of steady answers after it came back, so the gap below has ended.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      const report = await load.stop();
      console.log(
        `engine restarted (the engine answered after ${restartedMs} ms, the site after ${answeredMs} ms): ${report.failed} failed of ${report.requests} requests, longest gap ${report.longestGapMs} ms, served ${JSON.stringify(report.bodies)}`,
      );
      expect(Object.keys(report.bodies)).toEqual(['v2']);
    }

    const webAfter = await running('web');
    const proxyAfter = await running('proxy');
    console.log(
      `web ${address(webBefore)} -> ${address(webAfter)}, proxy ${address(proxyBefore)} -> ${address(proxyAfter)}, web restarts: ${webAfter.restartCount}`,
    );
    // The same containers, restarted by their policy (berth's replica kept the service's), at
    // other addresses: what broke the site before routes named containers.
    expect([webAfter.id, proxyAfter.id]).toEqual([webBefore.id, proxyBefore.id]);
    expect(address(webAfter)).not.toBe(address(webBefore));
    // Nothing ran berth: the ledger is as it was.
    expect(readLedger(join(product.stateDir, product.name))).toEqual(ledger);
  }, 300_000);

  it('engine restarted while a deploy starts the new release: undone once it is back, one line, the old release answers', async () => {
    const load = startLoad(url, { concurrency: 2, ratePerSecond: 40, maxMs: 300_000 });
    const running = deploy('v3');
    // The new release's container is up (berth is in its up or health step): restart the engine.
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const all = await listContainers(vm.runner, product.name, 'web', true);
      if (all.some((c) => c.image.endsWith(':v3'))) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const started = performance.now();
    await vm.restart();
    const result = await running;
    const endedMs = Math.round(performance.now() - started);
    const back = await firstAnswer(url);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const report = await load.stop();
    const errors = result.stderr.split('\n').filter((l) => l.startsWith('error:'));
    console.log(
      `engine restarted mid-switch (berth ended ${endedMs} ms after the restart began): ${report.failed} failed of ${report.requests} requests, longest gap ${report.longestGapMs} ms, served ${JSON.stringify(report.bodies)}\n  ${errors.join('\n  ')}`,
    );
    expect(back).toBe('v2');
    expect(result.exitCode, result.stderr).toBe(3);
    expect(errors).toEqual([
      expect.stringMatching(
        /^error: the Docker engine went away during the (up|health) step, restarted or stopped \(.+\); the deploy was undone, \S+ still runs v2: check that it runs again/,
      ),
    ]);
    expect(Object.keys(report.bodies)).toEqual(['v2']);
    // Undo removed the new container, which its restart policy had brought back with the engine.
    const left = await listContainers(vm.runner, product.name, 'web', true);
    expect(left.map((c) => `${c.image.split(':').pop()}:${c.running}`)).toEqual(['v2:true']);
    const record = readLedger(join(product.stateDir, product.name)).at(-1);
    expect(record).toMatchObject({ tag: 'v3', result: 'failed' });
    expect(record?.error).toMatch(/^the Docker engine went away during the (up|health) step/);
  }, 300_000);
});
