// The switch plan as pure decisions: which strategy, which compose calls, which upstreams.
import { describe, expect, it } from 'vitest';
import { COMPOSE_V1 } from '../../lib/commands/compose.mts';
import type { Product } from '../../lib/config/load.mts';
import type { DeployContext } from '../../lib/deploy/context.mts';
import type { ContainerState } from '../../lib/engine/engine.mts';
import { dialAddress, isBerthUpstreams, parseUpstreams, renderUpstreams } from '../../lib/deploy/proxy.mts';
import { chooseStrategy, singletonReason } from '../../lib/deploy/plan/strategy.mts';
import { retiring } from '../../lib/deploy/steps/retire.mts';
import { smokeFailure } from '../../lib/deploy/steps/smoke.mts';
import { inventoryOf, planUp } from '../../lib/deploy/steps/up.mts';
import { createDeployContext } from '../../lib/deploy/deploy-product.mts';
import { silentUi } from '../../lib/core/ui.mts';
import { containerState } from '../support/containers.mts';
import { fakeRunner } from '../support/fake-runner.mts';

const container = (id: string, networks: Record<string, string>): ContainerState =>
  containerState({ id, image: 'r/web:1', imageId: `sha256:${id}`, networks });

const replica = (id: string, service: string, number: number) => ({
  id,
  labels: { 'com.docker.compose.service': service, 'com.docker.compose.container-number': String(number) },
});

function context(): DeployContext & { found: NonNullable<DeployContext['found']> } {
  const product = {
    name: 'shop',
    projectName: 'shop',
    registry: 'r',
    repoDir: '/srv/shop',
    stateDir: '/state/shop',
    file: 'products/shop.mts',
    composeFiles: ['c.yml'],
    def: { name: 'shop', repo: 'shop', composeFiles: ['c.yml'], services: {} },
    services: {
      proxy: { name: 'proxy', kind: 'proxy', repository: 'r/caddy' },
      web: { name: 'web', kind: 'http', repository: 'r/shop-web', health: { path: '/healthz', port: 8080 }, drainSeconds: 2 },
      worker: { name: 'worker', kind: 'worker', repository: 'r/shop-worker' },
      db: { name: 'db', kind: 'stateful', repository: 'r/db' },
    },
  } as unknown as Product;
  const ctx = createDeployContext(product, { env: {} } as unknown as DeployContext['settings'], fakeRunner([]), silentUi(), { tag: 'abc' });
  ctx.composeEnv = {};
  const found = {
    flavour: { ...COMPOSE_V1, version: '1.29.2' },
    project: { flavour: { ...COMPOSE_V1, version: '1.29' }, name: 'shop', directory: '/srv/shop', files: ['/srv/shop/c.yml'] },
    compose: { services: {}, top: {} },
    proxy: container('px', { shop_default: '10.0.0.2' }),
  };
  return Object.assign(ctx, { found });
}

describe('switch plan', () => {
  it('start-first behind the proxy and for workers; stop-first for stateful, singletons and no proxy', () => {
    const ctx = context();
    expect(chooseStrategy(ctx, 'web')).toEqual({ strategy: 'start-first', why: 'behind the proxy' });
    expect(chooseStrategy(ctx, 'worker')).toEqual({ strategy: 'start-first', why: 'overlap' });
    expect(chooseStrategy(ctx, 'db')).toEqual({ strategy: 'stop-first', why: 'stateful' });
    ctx.found.compose.services.web = { ports: ['127.0.0.1:8080:8080/tcp'] };
    expect(chooseStrategy(ctx, 'web').strategy).toBe('stop-first');
    ctx.found.compose.services.web = {};
    ctx.found.proxy = undefined;
    expect(chooseStrategy(ctx, 'web')).toEqual({ strategy: 'stop-first', why: 'the proxy is not running' });
  });

  it("recognises what cannot run twice, in both compose flavours' config output", () => {
    expect(singletonReason({ ports: ['127.0.0.1:18080:80/tcp'] })).toMatch(/fixed host port/);
    expect(singletonReason({ ports: [{ target: 80, published: '18080' }] })).toMatch(/fixed host port/);
    expect(singletonReason({ ports: ['80'] })).toBeUndefined();
    expect(singletonReason({ ports: [{ target: 80 }] })).toBeUndefined();
    expect(singletonReason({ container_name: 'web' })).toBe('sets container_name web');
  });

  it('starts start-first replicas with docker beside the old ones, recreates the rest, defers a new proxy', () => {
    const ctx = context();
    ctx.plan = {
      web: { action: 'replace', reason: '', strategy: 'start-first' },
      worker: { action: 'replace', reason: '', strategy: 'stop-first' },
      db: { action: 'start', reason: '' },
      proxy: { action: 'start', reason: '' },
    };
    ctx.found.compose.services.web = { image: 'r/shop-web:abc', environment: { PORT: '8080' } };
    ctx.before = {
      web: [{ ...container('w1', { shop_default: '10.0.0.5' }), labels: { 'com.docker.compose.project.working_dir': '/srv/shop' } }],
    };
    const inventory = inventoryOf([replica('w1', 'web', 1), replica('w0', 'web', 2), replica('k1', 'worker', 1)]);
    expect(inventory.ids).toEqual(['w1', 'w0', 'k1']);
    const { direct, compose, notes } = planUp(ctx, inventory);
    expect(notes).toEqual([]);
    expect(compose).toHaveLength(1);
    expect(compose[0]?.slice(-2)).toEqual(['worker', 'db']);
    expect(compose[0]).not.toContain('proxy');
    expect(direct.map((d) => d.plan.name)).toEqual(['shop_web_3']);
    const [run] = direct[0]?.plan.commands ?? [];
    expect(run?.slice(0, 5)).toEqual(['docker', 'run', '--detach', '--name', 'shop_web_3']);
    expect(run).toContain('com.docker.compose.project.working_dir=/srv/shop');
    expect(run?.slice(-5)).toEqual(['--network', 'shop_default', '--network-alias', 'web', 'r/shop-web:abc']);
    expect(direct[0]?.envFile).toBe('/state/shop/shop_web_3.replica.env');
    expect(direct[0]?.plan.envFileText).toBe('PORT=8080\n');
  });

  it('leaves a replica to Compose when docker cannot start it the same way, and says why', () => {
    const ctx = context();
    ctx.plan = { web: { action: 'replace', reason: '', strategy: 'start-first' } };
    ctx.before = { web: [container('w1', { shop_default: '10.0.0.5' }), container('w2', { shop_default: '10.0.0.6' })] };
    const inventory = inventoryOf([replica('w1', 'web', 1), replica('w2', 'web', 2)]);
    ctx.found.compose.services.web = { image: 'r/shop-web:abc', links: ['db'] };
    let plan = planUp(ctx, inventory);
    expect(plan.direct).toEqual([]);
    expect(plan.notes).toEqual(['web: Compose starts the new container (compose file uses links)']);
    expect(plan.compose[0]?.slice(-4)).toEqual(['--no-recreate', '--scale', 'web=4', 'web']);
    ctx.found.compose.services.web = { image: 'r/shop-web:abc', networks: { back: null } };
    plan = planUp(ctx, inventory);
    expect(plan.notes).toEqual(['web: Compose starts the new container (network shop_back is not attached to w1)']);
    ctx.found.compose.services.web = { image: 'r/shop-web:abc' };
    ctx.settings.env.BERTH_START = 'compose';
    expect(planUp(ctx, inventory).notes).toEqual(['web: Compose starts the new container (BERTH_START=compose)']);
    ctx.settings.env.BERTH_START = undefined;
    expect(planUp(ctx, inventory).direct.map((d) => d.plan.name)).toEqual(['shop_web_3', 'shop_web_4']);
  });

  it('upstream files round-trip and dial the network the proxy shares', () => {
    expect(parseUpstreams(renderUpstreams(['10.0.0.5:8080', '10.0.0.6:8080']))).toEqual(['10.0.0.5:8080', '10.0.0.6:8080']);
    const proxy = container('px', { front: '10.1.0.2' });
    // The container's name, not its IP: Docker's DNS resolves it on the shared network at each dial.
    expect(dialAddress(container('n', { back: '10.2.0.3', front: '10.1.0.9' }), proxy, 8080)).toBe('n:8080');
    expect(dialAddress(container('n', { back: '10.2.0.3' }), proxy, 8080)).toBeUndefined();
  });

  it('a lone routed name is written as a lookup Caddy repeats, so handing the name over needs no reload', () => {
    const text = renderUpstreams(['shop-web:8080'], 'shop-web');
    expect(text).toBe('# Written by berth on each switch; do not edit.\ndynamic a shop-web 8080 {\n\trefresh 500ms\n}\n');
    expect(parseUpstreams(text)).toEqual(['shop-web:8080']);
    // Any other single name, or several, stays a fixed list.
    expect(renderUpstreams(['shop_web_1:8080'], 'shop-web')).toBe(renderUpstreams(['shop_web_1:8080']));
    expect(parseUpstreams(renderUpstreams(['shop-web:8080', 'b:8080'], 'shop-web'))).toEqual(['shop-web:8080', 'b:8080']);
    // A list an older berth wrote for the routed name is still berth's own file.
    expect(isBerthUpstreams(renderUpstreams(['shop-web:8080']), ['shop-web:8080'], 'shop-web')).toBe(true);
    expect(isBerthUpstreams(text, ['shop-web:8080'], 'shop-web')).toBe(true);
    expect(isBerthUpstreams(`${text}# edited\n`, ['shop-web:8080'], 'shop-web')).toBe(false);
  });

  it('smoke checks compare status and the deployed tag in the body', () => {
    expect(smokeFailure({ path: '/v', contains: '{tag}' }, 'abc', { status: 200, body: 'release abc' })).toBeUndefined();
    expect(smokeFailure({ path: '/v', contains: '{tag}' }, 'abc', { status: 200, body: 'release old' })).toBe(
      "/v: body does not contain 'abc' (got 'release old')",
    );
    expect(smokeFailure({ path: '/v', status: 204 }, 'abc', { status: 0, body: '' })).toBe('/v: expected HTTP 204, got no answer');
  });

  it('retires only the old containers of start-first services, draining switched ones', () => {
    const ctx = context();
    ctx.plan = {
      web: { action: 'replace', reason: '', strategy: 'start-first' },
      worker: { action: 'replace', reason: '', strategy: 'start-first' },
      db: { action: 'replace', reason: '', strategy: 'stop-first' },
    };
    ctx.before = { web: [container('w1', {})], worker: [container('k1', {})], db: [container('d1', {})] };
    ctx.journal.switched = [{ service: 'web', before: [] }];
    ctx.found.compose.services.worker = { stop_grace_period: '1m' };
    expect(retiring(ctx)).toEqual([
      { service: 'web', ids: ['w1'], drainMs: 2000, stopSeconds: 10 },
      { service: 'worker', ids: ['k1'], drainMs: 0, stopSeconds: 60 },
    ]);
  });
});
