// The engine restarted between deploys (what a VM reboot does to Docker), on a second engine
// serving a product with its own Caddy under steady load: the containers come back by their
// restart policy with new addresses, and the site answers the deployed release again with no berth
// command, because Caddy's upstreams name containers, not addresses.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listContainers, type ContainerState } from '../../lib/engine/engine.mts';
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
    expect(upstreams).toContain(`${webBefore.name}:8080`);
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
});
