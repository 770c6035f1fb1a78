// The switch with a fake engine and real upstream files in a temp state dir: repair makes
// engine and files agree, the switch journals each service before rewriting its file, and undo
// reads only that journal.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { publishUpstreams, readUpstreams, upstreamFile, writeUpstreams } from '../../lib/deploy/proxy.mts';
import { repair } from '../../lib/deploy/steps/repair.mts';
import { switchTraffic } from '../../lib/deploy/steps/switch-traffic.mts';
import { undoDeploy } from '../../lib/deploy/undo.mts';
import { HealthError } from '../../lib/core/errors.mts';
import { appendRelease, readLedger } from '../../lib/releases/ledger.mts';
import { container, deployContext, engineRows, shopProduct, WEB_BEHIND_PROXY, type FakeContainer } from './deploy-world.mts';

const proxy = container({ id: 'px', service: 'proxy', ip: '10.0.0.2' });
const reload = 'docker exec px caddy reload --config /etc/caddy/Caddyfile --adapter caddyfile';

describe('repair step', () => {
  const proxyRow: FakeContainer = { id: 'px', service: 'proxy', ip: '10.0.0.2' };
  it('keeps the containers the upstream file names, removes the others, and leaves files that agree alone', async () => {
    const product = shopProduct(WEB_BEHIND_PROXY);
    writeUpstreams(product, 'web', ['shop_web_w1:8080']);
    const containers: FakeContainer[] = [
      proxyRow,
      { id: 'w1', service: 'web', ip: '10.0.0.5' },
      { id: 'w2', service: 'web', ip: '10.0.0.6', created: '2026-01-02T00:00:00Z' },
    ];
    const { ctx, runner, ui } = deployContext(product, [...engineRows(containers), [/^docker rm --force w2$/, {}]], {}, proxy);
    await repair.run(ctx);
    expect(runner.runs).toEqual(['docker rm --force w2']);
    expect(ui.lines).toContain('warning: web: 1 container(s) left by an interrupted deploy: shop_web_w2');
    expect(readUpstreams(product, 'web')).toEqual(['shop_web_w1:8080']);
  });

  it('reads a file an older berth wrote with IPs, keeps the container it names, and rewrites it by name', async () => {
    const product = shopProduct(WEB_BEHIND_PROXY);
    writeUpstreams(product, 'web', ['10.0.0.5:8080']);
    const containers: FakeContainer[] = [
      proxyRow,
      { id: 'w1', service: 'web', ip: '10.0.0.5' },
      { id: 'w2', service: 'web', ip: '10.0.0.6', created: '2026-01-02T00:00:00Z' },
    ];
    const { ctx, runner } = deployContext(
      product,
      [...engineRows(containers), [/^docker rm --force w2$/, {}], [/caddy reload/, {}]],
      {},
      proxy,
    );
    await repair.run(ctx);
    expect(runner.runs).toEqual(['docker rm --force w2', reload]);
    expect(readUpstreams(product, 'web')).toEqual(['shop_web_w1:8080']);
  });

  it('with no upstream file the newest healthy container serves: the file is written and the proxy reloaded', async () => {
    const product = shopProduct(WEB_BEHIND_PROXY);
    const containers: FakeContainer[] = [
      proxyRow,
      { id: 'w1', service: 'web', ip: '10.0.0.5', health: 'healthy' },
      { id: 'w22', service: 'web', ip: '10.0.0.6', health: 'unhealthy', created: '2026-01-02T00:00:00Z' },
    ];
    const { ctx, runner } = deployContext(
      product,
      [...engineRows(containers), [/^docker rm --force w22$/, {}], [/caddy reload/, {}]],
      {},
      proxy,
    );
    await repair.run(ctx);
    expect(runner.runs).toEqual(['docker rm --force w22', reload]);
    expect(readUpstreams(product, 'web')).toEqual(['shop_web_w1:8080']);
  });

  it('is not part of a deploy without switched services', () => {
    const { ctx } = deployContext(shopProduct({ worker: WEB_BEHIND_PROXY.worker } as typeof WEB_BEHIND_PROXY), []);
    expect(repair.enabled?.(ctx)).toBe(false);
  });
});

describe('switch traffic', () => {
  /** web's old container holds the routed name (a previous switch gave it), w2 is the new one. */
  function switching(rows: Parameters<typeof deployContext>[1] = [], product = shopProduct(WEB_BEHIND_PROXY)) {
    const engine = engineRows([
      { id: 'w1', service: 'web', name: 'shop-web' },
      { id: 'w2', service: 'web', ip: '10.0.0.6' },
    ]);
    const world = deployContext(
      product,
      [[/^docker exec px wget/, { exitCode: 0 }], [/caddy reload/, {}], [/^docker rename /, {}], ...engine, ...rows],
      {},
      proxy,
    );
    world.ctx.plan = {
      proxy: { action: 'keep', reason: '' },
      web: { action: 'replace', reason: '', strategy: 'start-first' },
      worker: { action: 'replace', reason: '', strategy: 'start-first' },
    };
    world.ctx.before = { web: [{ ...container({ id: 'w1', service: 'web' }), name: 'shop-web' }] };
    world.ctx.fresh = { web: [container({ id: 'w2', service: 'web', ip: '10.0.0.6' })] };
    return { product, ...world };
  }

  it('probes the new container from the proxy, journals the old upstreams, hands the routed name over, and reloads once: the route became a name', async () => {
    const product = shopProduct(WEB_BEHIND_PROXY);
    writeUpstreams(product, 'web', ['shop_web_w1:8080']);
    const { ctx, runner } = switching([], product);
    expect(switchTraffic.enabled?.(ctx)).toBe(true);
    expect(await switchTraffic.skip?.(ctx)).toBe(false);
    await switchTraffic.run(ctx);
    // By name: Docker's DNS answers for exactly that container, also after its IP changes.
    expect(runner.calls[0]).toBe('docker exec px wget -S -q -O - http://w2:8080/healthz');
    expect(runner.runs).toEqual(['docker rename w1 shop-web-w1', 'docker rename w2 shop-web', reload]);
    expect(ctx.journal.switched).toEqual([
      {
        service: 'web',
        before: ['shop_web_w1:8080'],
        handover: { name: 'shop-web', fresh: { id: 'w2', name: 'w2' }, holder: { id: 'w1', name: 'shop-web-w1' } },
      },
    ]);
    expect(readUpstreams(product, 'web')).toEqual(['shop-web:8080']);
    expect(readFileSync(upstreamFile(product, 'web'), 'utf8')).toContain('dynamic a shop-web 8080 {');
  });

  it('hands the name over without a reload once the proxy runs the route by name: no client connection is closed', async () => {
    const product = shopProduct(WEB_BEHIND_PROXY);
    writeUpstreams(product, 'web', ['shop_web_w1:8080']);
    await switchTraffic.run(switching([], product).ctx);
    const { ctx, runner } = switching([], product);
    await switchTraffic.run(ctx);
    expect(runner.runs).toEqual(['docker rename w1 shop-web-w1', 'docker rename w2 shop-web']);
    expect(readUpstreams(product, 'web')).toEqual(['shop-web:8080']);
  });

  it('reloads when the proxy last loaded something else, though this switch leaves the file as it was (a deploy killed before its reload)', async () => {
    const product = shopProduct(WEB_BEHIND_PROXY);
    writeUpstreams(product, 'web', ['shop_web_w1:8080']);
    const loaded = switching([], product);
    expect(await publishUpstreams(loaded.ctx, proxy)).toBe(true);
    // The killed deploy wrote the name and never reloaded: the proxy still runs the list.
    writeUpstreams(product, 'web', ['shop-web:8080']);
    const { ctx, runner } = switching([], product);
    await switchTraffic.run(ctx);
    expect(runner.runs).toEqual(['docker rename w1 shop-web-w1', 'docker rename w2 shop-web', reload]);
  });

  it('refuses a container the proxy cannot reach, before touching the file', async () => {
    const product = shopProduct(WEB_BEHIND_PROXY);
    writeUpstreams(product, 'web', ['10.0.0.5:8080']);
    const { ctx, runner } = deployContext(product, [[/^docker exec px wget/, { exitCode: 1, stderr: 'connection refused' }]], {}, proxy);
    ctx.plan = { web: { action: 'replace', reason: '', strategy: 'start-first' } };
    ctx.fresh = { web: [container({ id: 'w2', service: 'web', ip: '10.0.0.6' })] };
    await expect(switchTraffic.run(ctx)).rejects.toThrow(HealthError);
    expect(ctx.journal.switched).toEqual([]);
    expect(readUpstreams(product, 'web')).toEqual(['10.0.0.5:8080']);
    expect(runner.runs).toEqual([]);
  });

  it('under dry run says which file it would write and how the name would be handed over', async () => {
    const { ctx, product } = switching();
    ctx.options.dryRun = true;
    expect(await switchTraffic.skip?.(ctx)).toBe(
      `dry run: would write ${product.stateDir}/upstreams/web.caddy with the new web container(s) on :8080; hand shop-web to the new web container (docker rename shop-web <its compose name> && docker rename <new container> shop-web; no reload unless its routes changed)`,
    );
  });

  it('under dry run names the reload for a service with several replicas', async () => {
    const { ctx } = switching();
    ctx.options.dryRun = true;
    ctx.before = { web: [container({ id: 'w1', service: 'web' }), container({ id: 'w3', service: 'web' })] };
    expect(await switchTraffic.skip?.(ctx)).toMatch(new RegExp(`; web: ${reload}$`));
  });
});

describe('undo', () => {
  const record = (tag: string) => ({
    time: new Date().toISOString(),
    who: 't',
    host: 'h',
    product: 'shop',
    tag,
    kind: 'deploy' as const,
    result: 'ok' as const,
    services: {},
    changed: [],
  });

  it('puts the journaled upstreams back, removes the new start-first containers, brings stop-first ones back, and records both releases', async () => {
    const product = shopProduct({
      ...WEB_BEHIND_PROXY,
      db: { name: 'db', kind: 'stateful', repository: 'reg/db' },
    } as typeof WEB_BEHIND_PROXY);
    appendRelease(product.stateDir, record('v1'));
    writeUpstreams(product, 'web', ['10.0.0.6:8080']);
    const containers: FakeContainer[] = [
      { id: 'w1', service: 'web' },
      { id: 'w2', service: 'web' },
      { id: 'k2', service: 'worker', running: false },
      { id: 'd2', service: 'db' },
    ];
    const { ctx, runner } = deployContext(
      product,
      [
        ...engineRows(containers),
        [/caddy reload/, {}],
        [/^docker rm --force w2 k2$/, {}],
        [/docker-compose .* up --detach --no-deps --no-build db$/, {}],
        [/^docker image inspect /, { stdout: '[{"Id":"x","RepoDigests":[]}]' }],
      ],
      {},
      proxy,
    );
    ctx.plan = {
      web: { action: 'replace', reason: '', strategy: 'start-first' },
      worker: { action: 'replace', reason: '', strategy: 'start-first' },
      db: { action: 'replace', reason: '', strategy: 'stop-first' },
    };
    ctx.journal = {
      started: { existingIds: ['w1', 'px'], replaced: { web: 'start-first', worker: 'start-first', db: 'stop-first' } },
      switched: [{ service: 'web', before: ['10.0.0.5:8080'] }],
    };
    const recordFailure = await undoDeploy(ctx, new HealthError('smoke failed'), 'smoke');
    // The ledger waits for the afterFailure hooks, so that it can name them.
    expect(readLedger(product.stateDir).map((r) => r.tag)).toEqual(['v1']);
    recordFailure();
    expect(runner.runs).toEqual([
      reload,
      'docker rm --force w2 k2',
      'docker-compose --project-name shop --project-directory /srv/shop -f /srv/shop/c.yml up --detach --no-deps --no-build db',
    ]);
    expect(readUpstreams(product, 'web')).toEqual(['10.0.0.5:8080']);
    expect(readLedger(product.stateDir).map((r) => [r.tag, r.kind, r.result, r.changed])).toEqual([
      ['v1', 'deploy', 'ok', []],
      ['v2', 'deploy', 'rolled-back', ['web', 'worker', 'db']],
      ['v1', 'auto-rollback', 'ok', ['web', 'db']],
    ]);
  });

  it('with an empty journal only records the failure', async () => {
    const product = shopProduct({});
    const { ctx, runner } = deployContext(product, []);
    (await undoDeploy(ctx, new Error('pull failed'), 'pull'))();
    expect(runner.calls).toEqual([]);
    expect(readLedger(product.stateDir).map((r) => [r.result, r.error])).toEqual([['failed', 'pull: Error: pull failed']]);
  });

  it('does nothing when preflight did not finish, or under dry run', async () => {
    const product = shopProduct({});
    const refused = deployContext(product, []).ctx;
    refused.found = undefined;
    (await undoDeploy(refused, new Error('x'), 'preflight'))();
    const dry = deployContext(product, [], { dryRun: true }).ctx;
    (await undoDeploy(dry, new Error('x'), 'up'))();
    expect(readLedger(product.stateDir)).toEqual([]);
  });
});
