// The comparison repair and status share, pure: a ledger, routes and containers in; findings and
// actions out.
import { describe, expect, it } from 'vitest';
import { compareDrift, imageTag, type DriftInput } from '../../lib/deploy/drift.mts';
import { applyRepair, lastLogLine, productDrift } from '../../lib/deploy/repair.mts';
import { engineSaw } from '../../lib/engine/engine.mts';
import { readUpstreams, renderUpstreams, writeUpstreams } from '../../lib/deploy/proxy.mts';
import { CommandError } from '../../lib/core/errors.mts';
import type { ReleaseRecord } from '../../lib/releases/ledger.mts';
import { containerState } from '../support/containers.mts';
import { container, deployContext, engineRows, shopProduct, WEB_BEHIND_PROXY, type FakeContainer } from './deploy-world.mts';

const net = { shop_default: '10.0.0.9' };
const proxy = containerState({ id: 'px', name: 'shop-proxy-1', service: 'proxy', networks: net });
const web = (id: string, imageId: string, extra: Partial<Parameters<typeof containerState>[0]> = {}) =>
  containerState({ id, name: `shop-web-${id}`, service: 'web', image: `reg/shop-web:${imageId}`, imageId, networks: net, ...extra });
const release = (tag: string, id: string): ReleaseRecord => ({
  time: '2026-11-01T00:00:00Z',
  who: 'ops',
  host: 'vm',
  product: 'shop',
  tag,
  kind: 'deploy',
  result: 'ok',
  services: { web: { image: `reg/shop-web:${tag}`, id } },
  changed: ['web'],
});

function input(fields: Partial<DriftInput>): DriftInput {
  return {
    product: 'shop',
    services: [{ name: 'web', port: 8080 }],
    records: [release('v1', 'v1')],
    routes: { web: renderUpstreams(['shop-web-a:8080']) },
    containers: [proxy, web('a', 'v1')],
    proxy: { label: 'proxy', service: 'proxy', container: proxy },
    ...fields,
  };
}

describe('compareDrift', () => {
  it('finds nothing when the routes name the running container of the ledger release', () => {
    expect(compareDrift(input({}))).toEqual({ findings: [], actions: [] });
  });

  it('routes naming a container that is gone are rewritten to the one running', () => {
    const drift = compareDrift(input({ routes: { web: renderUpstreams(['shop-web-old:8080']) } }));
    expect(drift.findings.map((f) => f.line)).toEqual(['web routed to a container that is gone (shop-web-old:8080)']);
    expect(drift.actions).toEqual([{ kind: 'write-routes', service: 'web', addresses: ['shop-web-a:8080'] }]);
  });

  it('a file edited by hand is rewritten even when it names the right container', () => {
    const drift = compareDrift(input({ routes: { web: 'to shop-web-a:8080 }}}\n' } }));
    expect(drift.findings.map((f) => f.kind)).toEqual(['route-invalid']);
    expect(drift.actions).toEqual([{ kind: 'write-routes', service: 'web', addresses: ['shop-web-a:8080'] }]);
  });

  it('a restarting proxy is reported with its last log line and started after the routes are written', () => {
    const restarting = { ...proxy, status: 'restarting', restartCount: 4 };
    const drift = compareDrift(
      input({
        routes: { web: 'garbage' },
        containers: [restarting, web('a', 'v1')],
        proxy: { label: 'proxy', service: 'proxy', container: restarting, lastLog: 'File to import not found' },
      }),
    );
    expect(drift.findings[0]?.line).toBe('proxy restarting: File to import not found');
    expect(drift.actions.map((a) => a.kind)).toEqual(['write-routes', 'start-proxy']);
  });

  it('a missing proxy is started only when something runs to route to', () => {
    const noProxy = { proxy: { label: 'proxy', service: 'proxy' } };
    expect(compareDrift(input({ ...noProxy, containers: [web('a', 'v1')] })).actions).toEqual([{ kind: 'start-proxy', service: 'proxy' }]);
    expect(compareDrift(input({ ...noProxy, containers: [], routes: {}, records: undefined }))).toEqual({ findings: [], actions: [] });
  });

  it("the edge of another project is reported but never started: its own product's deploy does that", () => {
    const stopped = { ...proxy, running: false, status: 'exited' };
    const drift = compareDrift(input({ proxy: { label: 'the edge proxy (plat/caddy)', container: stopped, lastLog: 'bye' } }));
    expect(drift.findings.map((f) => f.line)).toEqual(['the edge proxy (plat/caddy) exited: bye']);
    expect(drift.actions).toEqual([]);
  });

  it('an interrupted deploy: the container the routes name is kept, the other removed', () => {
    const drift = compareDrift(input({ containers: [proxy, web('a', 'v1'), web('b', 'v1', { createdAt: '2' })] }));
    expect(drift.actions).toEqual([{ kind: 'remove', service: 'web', containers: [expect.objectContaining({ id: 'b' })] }]);
  });

  it('a release a killed deploy switched to is verified before anything records it, the ledger release held back', () => {
    const drift = compareDrift(
      input({
        routes: { web: renderUpstreams(['shop-web-b:8080']) },
        containers: [proxy, web('a', 'v1'), web('b', 'v2', { createdAt: '2' })],
      }),
    );
    expect(drift.findings.map((f) => f.kind)).toEqual(['orphans', 'unverified']);
    // The v1 container is not removed yet: it is where traffic goes back if v2 fails its checks.
    expect(drift.actions).toEqual([
      {
        kind: 'verify',
        service: 'web',
        tag: 'v2',
        containers: [expect.objectContaining({ id: 'b' })],
        fallback: expect.objectContaining({ id: 'a' }),
      },
    ]);
  });

  it('with no routes at all, the ledger release is kept over a newer container', () => {
    const drift = compareDrift(input({ routes: {}, containers: [proxy, web('a', 'v1'), web('b', 'v2', { createdAt: '2' })] }));
    expect(drift.actions).toEqual([
      { kind: 'remove', service: 'web', containers: [expect.objectContaining({ id: 'b' })] },
      { kind: 'write-routes', service: 'web', addresses: ['shop-web-a:8080'] },
    ]);
  });

  it('state lost: routes rebuilt from what runs, history said to be gone, nothing to verify against', () => {
    const drift = compareDrift(input({ records: undefined, routes: { web: undefined } }));
    expect(drift.findings.map((f) => f.kind)).toEqual(['ledger-missing', 'route-missing']);
    expect(drift.findings[0]?.line).toMatch(/rollback has nothing to go back to until the next deploy/);
    expect(drift.actions).toEqual([{ kind: 'write-routes', service: 'web', addresses: ['shop-web-a:8080'] }]);
  });

  it('behind the edge, a routed name nobody holds is handed to the container kept', () => {
    const drift = compareDrift(
      input({ services: [{ name: 'web', port: 8080, routedName: 'shop-web' }], routes: { web: renderUpstreams(['shop-web:8080']) } }),
    );
    expect(drift.actions).toEqual([{ kind: 'hand-over', service: 'web', container: expect.objectContaining({ id: 'a' }) }]);
  });

  it('a service with no running container: the stale route is reported, nothing to act on', () => {
    const drift = compareDrift(input({ containers: [proxy] }));
    expect(drift.findings.map((f) => f.line)).toEqual(['web routed to a container that is gone (shop-web-a:8080)']);
    expect(drift.actions).toEqual([]);
  });
});

describe('what berth says about engine errors and logs', () => {
  it('turns the raw engine messages into what the container is doing', () => {
    const restarting = new CommandError(
      'docker exec px caddy reload',
      1,
      'Error response from daemon: Container abc is restarting, wait until the container is running',
    );
    expect(engineSaw(restarting)).toBe('it is restarting (its process keeps exiting)');
    const oci = new CommandError(
      'docker exec px caddy reload',
      126,
      'OCI runtime exec failed: exec failed: unable to start container process: ...',
    );
    expect(engineSaw(oci)).toMatch(/^the engine could not run a command in it \(OCI runtime exec failed\)/);
  });

  it("reads Caddy's JSON log for its error", () => {
    expect(
      lastLogLine('{"level":"info","msg":"x"}\n{"level":"error","error":"File to import not found: /etc/caddy/upstreams/web.caddy"}\n'),
    ).toBe('File to import not found: /etc/caddy/upstreams/web.caddy');
    expect(lastLogLine('Error: adapting config using caddyfile: wrong argument count\n')).toBe(
      'Error: adapting config using caddyfile: wrong argument count',
    );
    expect(imageTag('127.0.0.1:5000/shop-web:v2')).toBe('v2');
  });
});

describe('applyRepair on a fake engine', () => {
  const proxyRow: FakeContainer = { id: 'px', service: 'proxy', ip: '10.0.0.2' };
  const refused = 'Error response from daemon: Container px is restarting, wait until the container is running';

  it('a reload the engine refuses becomes a restart, said in one line with what berth saw', async () => {
    const product = shopProduct(WEB_BEHIND_PROXY);
    writeUpstreams(product, 'web', ['shop_web_gone:8080']);
    const rows = [
      ...engineRows([proxyRow, { id: 'w1', service: 'web', ip: '10.0.0.5' }]),
      [/caddy reload/, { exitCode: 1, stderr: refused }],
      [/^docker restart --time 10 px$/, {}],
    ] as Parameters<typeof deployContext>[1];
    const { ctx, runner } = deployContext(product, rows, {}, container(proxyRow));
    const outcome = await applyRepair(ctx, await productDrift(ctx), { record: false });
    expect(outcome.findings).toContain('web routed to a container that is gone (shop_web_gone:8080)');
    expect(outcome.did).toEqual([
      'web: upstreams set to shop_web_w1:8080',
      'proxy: reload failed (it is restarting (its process keeps exiting)); restarting it so it reads its routes again',
      'proxy: restarted and running',
    ]);
    expect(runner.runs.filter((r) => !r.startsWith('docker inspect'))).toEqual([
      'docker exec px caddy reload --config /etc/caddy/Caddyfile --adapter caddyfile',
      'docker restart --time 10 px',
    ]);
    expect(readUpstreams(product, 'web')).toEqual(['shop_web_w1:8080']);
  });

  it('a remove the engine refuses stops the repair with one line naming what it tried', async () => {
    const product = shopProduct(WEB_BEHIND_PROXY);
    writeUpstreams(product, 'web', ['shop_web_w1:8080']);
    const rows = [
      ...engineRows([proxyRow, { id: 'w1', service: 'web' }, { id: 'w2', service: 'web', created: '2026-01-02T00:00:00Z' }]),
      [
        /^docker rm --force w2$/,
        { exitCode: 1, stderr: 'Error response from daemon: OCI runtime exec failed: exec failed: unable to start container process' },
      ],
    ] as Parameters<typeof deployContext>[1];
    const { ctx } = deployContext(product, rows, {}, container(proxyRow));
    await expect(applyRepair(ctx, await productDrift(ctx), { record: false })).rejects.toThrow(
      /^repair of shop could not web: remove shop_web_w2 \(left by an interrupted deploy\): the engine could not run a command in it \(OCI runtime exec failed\)/,
    );
  });

  it('--dry-run says what it would do and runs nothing', async () => {
    const product = shopProduct(WEB_BEHIND_PROXY);
    const rows = engineRows([{ id: 'w1', service: 'web' }]);
    const { ctx, runner } = deployContext(product, rows, { dryRun: true });
    const outcome = await applyRepair(ctx, await productDrift(ctx), { record: false });
    expect(outcome.did).toEqual([
      `would web: write ${product.stateDir}/upstreams/web.caddy naming shop_web_w1:8080, then reload the proxy`,
      "would start proxy through Compose with the ledger's IMAGE_TAG, REGISTRY and BERTH_UPSTREAMS (then restart it if it still does not run)",
    ]);
    expect(runner.runs).toEqual([]);
    expect(readUpstreams(product, 'web')).toBeUndefined();
  });
});
