// The shared front door as a real VM has it: one Caddy in a compose project of its own (deployed by
// berth as the `<prefix>-edge` product), on an external network every routed product joins, with
// the sites directory berth writes mounted into it; products routed through it by host name.
// Everything carries the caller's prefix, so cleanupPrefix removes it.
import { randomInt } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rigRunner, publishedPort } from './engine.mts';
import { makeFixtureProduct, runningContainers, type FixtureProduct } from './fixture-product.mts';
import { makeProductsDir, writeFixtureProduct } from './product.mts';

export const EDGE_MOUNT = '/etc/caddy/sites';

export interface EdgeFixture {
  /** The edge's compose project and product name. */
  name: string;
  network: string;
  /** The edge network's /24, e.g. 10.213.7.0/24. */
  subnet: string;
  productsDir: string;
  stateDir: string;
  sitesDir: string;
  edge: FixtureProduct;
  /** Caddy's published port on 127.0.0.1. */
  port(): Promise<number>;
  /** A product whose `web` service is routed through the edge at `host`. */
  addProduct(name: string, host: string, options?: { onEdgeNetwork?: boolean; productExtra?: string }): Promise<FixtureProduct>;
  remove(): Promise<void>;
}

/** The edge's own Caddyfile: every product's site file, and a 404 for a host nobody routes. */
export const EDGE_CADDYFILE = `{\n\tauto_https off\n}\nimport ${EDGE_MOUNT}/*.caddy\n:80 {\n\trespond "no route for {host}" 404\n}\n`;

export async function makeEdgeFixture(options: { prefix: string; registry: string }): Promise<EdgeFixture> {
  const { prefix, registry } = options;
  const name = `${prefix}-edge`;
  const network = `${prefix}-edge`;
  const products = await makeProductsDir();
  const stateDir = await mkdtemp(join(tmpdir(), `${prefix}-state-`));
  const sitesDir = join(stateDir, 'edge');
  await mkdir(sitesDir, { recursive: true });
  // A subnet of its own, so a test can put a container on a chosen address; another test run may
  // hold a random pick already, so try a few.
  let subnet = '';
  for (let i = 0; !subnet; i++) {
    const candidate = `10.${200 + randomInt(50)}.${randomInt(256)}.0/24`;
    const made = await rigRunner.probe(['docker', 'network', 'create', '--subnet', candidate, network]);
    if (made.exitCode === 0) subnet = candidate;
    else if (i >= 10) throw new Error(`could not create ${network}: ${made.stderr.trim()}`);
  }
  await writeFixtureProduct(
    products.dir,
    'edge',
    `import { defineEdge } from '{{DEFINE}}';

export default defineEdge({ project: '${name}', service: 'proxy', network: '${network}', mountedAt: '${EDGE_MOUNT}', scheme: 'http' });
`,
  );
  const edge = await makeFixtureProduct({
    prefix: name,
    registry,
    productsDir: products.dir,
    stateDir,
    services: { proxy: { kind: 'proxy' } },
    files: {
      'compose.yaml': [
        'services:',
        '  proxy:',
        `    image: \${REGISTRY}/${name}-proxy:caddy`,
        // An ephemeral host port on loopback: tests find it with `docker port`.
        '    ports: ["127.0.0.1::80"]',
        '    volumes:',
        '      - ./Caddyfile:/etc/caddy/Caddyfile:ro',
        `      - ${sitesDir}:${EDGE_MOUNT}:ro`,
        '    networks: [edge]',
        'networks:',
        `  edge: { external: true, name: ${network} }`,
        '',
      ].join('\n'),
      Caddyfile: EDGE_CADDYFILE,
    },
  });
  await edge.pushProxy();
  const made: FixtureProduct[] = [edge];
  return {
    name,
    network,
    subnet,
    productsDir: products.dir,
    stateDir,
    sitesDir,
    edge,
    async port() {
      const [proxy] = await runningContainers(edge, 'proxy');
      return publishedPort(proxy?.id ?? '', 80, rigRunner);
    },
    async addProduct(productName, host, opts = {}) {
      const onEdge = opts.onEdgeNetwork ?? true;
      const product = await makeFixtureProduct({
        prefix: productName,
        registry,
        productsDir: products.dir,
        stateDir,
        services: {
          web: {
            product: `health: { path: '/healthz', port: 8080, timeoutSeconds: 20 }, drainSeconds: 0.3, routes: [{ host: '${host}' }]`,
          },
        },
        files: {
          'compose.yaml': [
            'services:',
            '  web:',
            `    image: \${REGISTRY}/${productName}-web:\${IMAGE_TAG:-latest}`,
            ...(onEdge ? ['    networks: [default, edge]', 'networks:', `  edge: { external: true, name: ${network} }`] : []),
            '',
          ].join('\n'),
        },
        productExtra:
          opts.productExtra ?? `  smoke: [{ path: '/version', host: '${host}', status: 200, contains: '{tag}' }],\n  monitorSeconds: 0.5,`,
      });
      made.push(product);
      return product;
    },
    async remove() {
      for (const product of made) await product.remove();
      await products.remove();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}
