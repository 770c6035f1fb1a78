// The shared edge as data: routes in the schema, the edge file, the site file berth renders, and
// the network check. The edge's real Caddy is driven in test/integration/edge.test.mts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { edgeErrors, loadEdge, type Edge } from '../../lib/config/load.mts';
import { validateProduct } from '../../lib/config/validate.mts';
import { edgeNetworkErrors, renderSites } from '../../lib/deploy/edge.mts';
import type { ProductDef } from '../../lib/config/types.mts';

const product = (services: Record<string, unknown>): Record<string, unknown> => ({
  name: 'clock',
  repo: 'clock',
  composeFiles: ['compose.yaml'],
  services,
});

describe('routes in a product file', () => {
  it('takes host names and path prefixes on http services', () => {
    const { errors } = validateProduct(
      product({
        web: {
          kind: 'http',
          health: { path: '/healthz', port: 3000 },
          routes: [{ host: 'clock.example.com' }, { host: 'x.internal', path: '/api' }],
        },
      }),
    );
    expect(errors).toEqual([]);
  });

  it('refuses every bad route at once, with its path and the fix', () => {
    const { errors } = validateProduct(
      product({
        web: {
          kind: 'http',
          health: { path: '/healthz', port: 3000 },
          routes: [
            { host: 'Clock.Example.com' },
            { host: 'ok.example.com', path: '/a b' },
            { host: 'http://x.com' },
            { host: 'a.com', path: 'api' },
          ],
        },
        jobs: { kind: 'worker', routes: [{ host: 'jobs.example.com' }] },
        api: { kind: 'http', routes: [{ host: 'ok.example.com', path: '/a b' }] },
      }),
    );
    expect(errors).toEqual(
      expect.arrayContaining([
        'services.web.routes[0].host: expected a host name like app.example.com (lower case, no scheme, no path)',
        'services.web.routes[1].path: expected a path prefix like /api (no spaces, braces, quotes or *)',
        'services.web.routes[2].host: expected a host name like app.example.com (lower case, no scheme, no path)',
        'services.web.routes[3].path: expected a string starting with /',
        'services.jobs.routes: routes are for http services only',
        'services.api.routes: a routed service needs health.port: the port the edge proxy dials',
      ]),
    );
  });

  it('refuses one host and path routed to two services', () => {
    const { errors } = validateProduct(
      product({
        web: { kind: 'http', health: { port: 3000 }, routes: [{ host: 'clock.example.com' }] },
        api: { kind: 'http', health: { port: 3000 }, routes: [{ host: 'clock.example.com' }] },
      }),
    );
    expect(errors).toContain('services.api.routes: clock.example.com is routed to both web and api');
  });
});

describe('the edge file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-edge-unit-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  // A directory per case: an imported module stays cached under its path.
  const write = (text: string) => {
    const productsDir = mkdtempSync(join(dir, 'products-'));
    writeFileSync(join(productsDir, 'edge.mts'), text);
    return productsDir;
  };

  it('is optional: no file, no edge', async () => {
    expect(await loadEdge({ productsDir: join(dir, 'none'), stateDir: dir })).toBeUndefined();
  });

  it('resolves the defaults', async () => {
    const productsDir = write(
      `export default { project: 'common_plat', service: 'caddy', network: 'edge', mountedAt: '/etc/caddy/sites/' };\n`,
    );
    expect(await loadEdge({ productsDir, stateDir: '/var/lib/berth' })).toMatchObject({
      project: 'common_plat',
      service: 'caddy',
      network: 'edge',
      sitesDir: '/var/lib/berth/edge',
      mountedAt: '/etc/caddy/sites',
      config: '/etc/caddy/Caddyfile',
      scheme: 'https',
    });
  });

  it('reports every bad field at once', async () => {
    const productsDir = write(`export default { project: 'Common', network: '', mountedAt: 'sites', scheme: 'ftp', extra: 1 };\n`);
    await expect(loadEdge({ productsDir, stateDir: dir })).rejects.toMatchObject({
      details: expect.arrayContaining([
        'project: lower-case letters, digits, - and _ only',
        'service: required',
        'network: expected a non-empty string',
        'mountedAt: expected an absolute path in the container',
        'scheme: expected https or http',
        expect.stringMatching(/^extra: unknown field/),
      ]),
    });
  });

  const edge: Edge = {
    file: '/p/edge.mts',
    project: 'common_plat',
    service: 'caddy',
    network: 'edge',
    sitesDir: '/s',
    mountedAt: '/etc/caddy/sites',
    config: '/etc/caddy/Caddyfile',
    scheme: 'https',
  };
  const routed = product({
    web: { kind: 'http', health: { port: 3000 }, routes: [{ host: 'clock.example.com' }] },
  }) as unknown as ProductDef;

  it('is required by a product with routes, and names the file to add', () => {
    expect(edgeErrors(routed, undefined, '/p')).toEqual([
      expect.stringContaining("services.web.routes: routes go through the VM's shared edge, and /p/edge.mts does not exist"),
    ]);
    expect(edgeErrors(routed, edge, '/p')).toEqual([]);
  });

  it('refuses routes beside a proxy of the product own, unless that proxy is the edge', () => {
    const own = { ...routed, services: { ...routed.services, proxy: { kind: 'proxy' as const } } };
    expect(edgeErrors(own, edge, '/p')[0]).toContain("clock has its own proxy service 'proxy'");
    const platform = { ...own, name: 'common_plat', services: { ...routed.services, caddy: { kind: 'proxy' as const } } };
    expect(edgeErrors(platform, edge, '/p')).toEqual([]);
  });
});

describe('the site file berth writes for a product', () => {
  it('has one block per host, longer paths first, the whole host last, and no route without a container', () => {
    const text = renderSites('clock', { scheme: 'http' }, [
      { service: 'web', routes: [{ host: 'clock.test' }, { host: 'www.clock.test' }], upstreams: ['clock_web_2:3000', 'clock_web_3:3000'] },
      { service: 'api', routes: [{ host: 'clock.test', path: '/api/' }], upstreams: ['clock_api_1:8080'] },
      { service: 'admin', routes: [{ host: 'admin.clock.test' }], upstreams: [] },
    ]);
    expect(text).toBe(
      [
        '# Written by berth for clock from its routes and the containers serving them; do not edit.',
        'http://clock.test {',
        '\t@route0 path /api /api/*',
        '\thandle @route0 {',
        '\t\treverse_proxy {',
        '\t\t\tto clock_api_1:8080',
        '\t\t\tlb_try_duration 5s',
        '\t\t\tlb_try_interval 20ms',
        '\t\t}',
        '\t}',
        '\thandle {',
        '\t\treverse_proxy {',
        '\t\t\tto clock_web_2:3000 clock_web_3:3000',
        '\t\t\tlb_try_duration 5s',
        '\t\t\tlb_try_interval 20ms',
        '\t\t}',
        '\t}',
        '}',
        'http://www.clock.test {',
        '\thandle {',
        '\t\treverse_proxy {',
        '\t\t\tto clock_web_2:3000 clock_web_3:3000',
        '\t\t\tlb_try_duration 5s',
        '\t\t\tlb_try_interval 20ms',
        '\t\t}',
        '\t}',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('routes a service whose only upstream is its routed name by a lookup of that name, which a switch hands over', () => {
    const text = renderSites('clock', { scheme: 'http' }, [
      { service: 'web', routes: [{ host: 'clock.test' }], upstreams: ['clock-web:3000'], routedName: 'clock-web' },
      {
        service: 'api',
        routes: [{ host: 'api.clock.test' }],
        upstreams: ['clock-api-2:8080', 'clock-api-3:8080'],
        routedName: 'clock-api',
      },
    ]);
    expect(text).toContain(
      '\t\treverse_proxy {\n\t\t\tdynamic a clock-web 3000 {\n\t\t\t\trefresh 500ms\n\t\t\t}\n\t\t\tlb_try_duration 5s\n',
    );
    expect(text).toContain('\t\t\tto clock-api-2:8080 clock-api-3:8080\n');
  });

  it('leaves the scheme to Caddy for https, so it gets certificates', () => {
    expect(
      renderSites('clock', { scheme: 'https' }, [{ service: 'web', routes: [{ host: 'clock.example.com' }], upstreams: ['a:1'] }]),
    ).toContain('\nclock.example.com {\n');
  });
});

describe('the edge network check', () => {
  const clock = {
    projectName: 'clock',
    composeFiles: ['compose.yaml'],
    services: {
      web: { name: 'web', kind: 'http' as const, repository: 'r/web', health: { port: 3000 }, routes: [{ host: 'clock.test' }] },
    },
  };

  it('passes a service on the external edge network, under any key', () => {
    const compose = {
      services: { web: { networks: { default: null, front: null } } },
      top: { networks: { front: { external: true, name: 'berth-edge' } } },
    };
    expect(edgeNetworkErrors(clock, { network: 'berth-edge' }, compose)).toEqual([]);
  });

  it('names the lines to add when the service is only on its default network', () => {
    const errors = edgeNetworkErrors(clock, { network: 'berth-edge' }, { services: { web: {} }, top: { networks: {} } });
    expect(errors).toEqual([
      "services.web: not on the edge network 'berth-edge', so the edge proxy cannot reach it; in compose.yaml give web `networks: [default, edge]` and add the top-level `networks: { edge: { external: true, name: berth-edge } }`",
    ]);
  });
});
