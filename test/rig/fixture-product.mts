// A whole fixture product: a real git repo with a compose file, a product definition in a temp
// products dir, a state dir, and helpers to push versions of its services to the test registry.
// Everything is named with the test file's prefix, so cleanupPrefix removes it all.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dockerPort } from '../../lib/commands/caddy.mts';
import { dockerPush, dockerTag } from '../../lib/commands/docker.mts';
import { listContainers, type ContainerState } from '../../lib/engine/engine.mts';
import { runBerth, type BerthResult } from './cli.mts';
import { rigRunner } from './engine.mts';
import { fixtureAppImage, fixtureCaddyImage } from './images.mts';
import { makeProductsDir, writeFixtureProduct } from './product.mts';
import { makeFixtureRepo, type FixtureRepo } from './repo.mts';

export interface FixtureServiceSpec {
  kind?: 'http' | 'worker' | 'stateful' | 'proxy';
  /** The compose image line; default `${REGISTRY}/<prefix>-<service>:${IMAGE_TAG:-latest}`. */
  image?: string;
  /** Extra compose keys for this service, as YAML lines indented under the service. */
  compose?: string[];
  /** Extra product keys for this service, as TS object text, e.g. `health: { path: '/healthz', port: 8080 }`. */
  product?: string;
}

export interface FixtureProductOptions {
  prefix: string;
  registry: string;
  services: Record<string, FixtureServiceSpec>;
  /** Extra top-level product keys as TS text, e.g. `smoke: [...]`. */
  productExtra?: string;
  /** Extra files in the repo. */
  files?: Record<string, string>;
  /** Share a products dir and a state dir with other fixture products (deploy-all); the caller removes them. */
  productsDir?: string;
  stateDir?: string;
}

export interface FixtureProduct {
  name: string;
  repo: FixtureRepo;
  productsDir: string;
  stateDir: string;
  /** The environment a berth command for this product needs. */
  env: Record<string, string>;
  repository(service: string): string;
  /** Pushes the fixture HTTP app answering `version` as <service>:<tag>. */
  pushApp(
    service: string,
    tag: string,
    options?: { version?: string; healthy?: boolean; healthyDelaySeconds?: number; unique?: boolean },
  ): Promise<void>;
  /** Pushes the fixture Caddy image as <prefix>-proxy:caddy (see proxyService()). */
  pushProxy(): Promise<void>;
  /** Pushes the image of <service>:<from> again as <service>:<to> (an unchanged service in a new release). */
  retag(service: string, from: string, to: string): Promise<void>;
  berth(args: string[], options?: { script?: string; env?: Record<string, string> }): Promise<BerthResult>;
  /** http://127.0.0.1:<port><path> where the running proxy service publishes its port 80. */
  proxyUrl(path?: string): Promise<string>;
  remove(): Promise<void>;
}

export function fixtureCompose(prefix: string, services: Record<string, FixtureServiceSpec>): string {
  const lines = ['services:'];
  for (const [name, spec] of Object.entries(services)) {
    const image = spec.image ?? `\${REGISTRY}/${prefix}-${name}:\${IMAGE_TAG:-latest}`;
    lines.push(`  ${name}:`, `    image: ${image}`, ...(spec.compose ?? []).map((l) => `    ${l}`));
  }
  return `${lines.join('\n')}\n`;
}

export async function makeFixtureProduct(options: FixtureProductOptions): Promise<FixtureProduct> {
  const { prefix, registry } = options;
  const repo = await makeFixtureRepo({ files: { 'compose.yaml': fixtureCompose(prefix, options.services), ...options.files } });
  const products = options.productsDir ? { dir: options.productsDir, remove: async () => {} } : await makeProductsDir();
  const stateDir = options.stateDir ?? (await mkdtemp(join(tmpdir(), `${prefix}-state-`)));
  const services = Object.entries(options.services)
    .map(([name, spec]) => `    ${name}: { kind: '${spec.kind ?? 'http'}'${spec.product ? `, ${spec.product}` : ''} },`)
    .join('\n');
  await writeFixtureProduct(
    products.dir,
    prefix,
    `import { defineProduct } from '{{DEFINE}}';

export default defineProduct({
  name: '${prefix}',
  repo: '${repo.dir}',
  composeFiles: ['compose.yaml'],
  services: {
${services}
  },
${options.productExtra ?? ''}
});
`,
  );
  const env = { BERTH_PRODUCTS_DIR: products.dir, BERTH_STATE_DIR: stateDir, BERTH_REGISTRY: registry, BERTH_WHO: 'berth-test' };
  const repository = (service: string) => `${registry}/${prefix}-${service}`;
  return {
    name: prefix,
    repo,
    productsDir: products.dir,
    stateDir,
    env,
    repository,
    async pushApp(service, tag, opts = {}) {
      const image = await fixtureAppImage(opts.version ?? tag, { healthy: opts.healthy, healthyDelaySeconds: opts.healthyDelaySeconds });
      if (opts.unique) {
        // A label-only child image: an ID no fixture tag shares, so removing this product's tags
        // really removes the image (what hygiene and rollback tests must observe).
        const dockerfile = `FROM ${image.tag}\nLABEL berth.test.image=${prefix}-${service}-${tag}\n`;
        await rigRunner.run(['docker', 'build', '--quiet', '--tag', `${repository(service)}:${tag}`, '-'], {
          input: dockerfile,
          env: { DOCKER_BUILDKIT: '0' },
        });
      } else {
        await rigRunner.run(dockerTag(image.tag, `${repository(service)}:${tag}`));
      }
      await rigRunner.run(dockerPush(`${repository(service)}:${tag}`));
    },
    async pushProxy() {
      const image = await fixtureCaddyImage();
      await rigRunner.run(dockerTag(image.tag, `${repository('proxy')}:caddy`));
      await rigRunner.run(dockerPush(`${repository('proxy')}:caddy`));
    },
    async retag(service, from, to) {
      await rigRunner.run(dockerTag(`${repository(service)}:${from}`, `${repository(service)}:${to}`));
      await rigRunner.run(dockerPush(`${repository(service)}:${to}`));
    },
    berth: (args, opts = {}) => runBerth(args, { script: opts.script ?? 'deploy', env: { ...env, ...opts.env } }),
    async proxyUrl(path = '/version') {
      const [proxy] = (await listContainers(rigRunner, prefix, 'proxy')).filter((c) => c.running);
      if (!proxy) throw new Error(`${prefix} has no running proxy container`);
      const port = (await rigRunner.read(dockerPort(proxy.id, 80))).split('\n')[0]?.split(':').pop();
      return `http://127.0.0.1:${port}${path}`;
    },
    async remove() {
      await repo.remove();
      await products.remove();
      if (!options.stateDir) await rm(stateDir, { recursive: true, force: true });
    },
  };
}

/** A product's own Caddy config: everything to `upstream`, through the file berth writes for it. */
export function doorCaddyfile(upstream = 'web'): string {
  return `{\n\tauto_https off\n}\n:80 {\n\treverse_proxy {\n\t\timport /etc/caddy/upstreams/${upstream}.caddy\n\t\tlb_try_duration 5s\n\t\tlb_try_interval 20ms\n\t}\n}\n`;
}

/** A Caddy front for fixture products: routes everything to `upstream`'s berth upstream file. */
export function proxyService(prefix: string, upstream = 'web'): { spec: FixtureServiceSpec; files: Record<string, string> } {
  return {
    spec: {
      kind: 'proxy',
      image: `\${REGISTRY}/${prefix}-proxy:caddy`,
      // An ephemeral host port on loopback: tests find it with `docker port`.
      compose: [
        'ports: ["127.0.0.1::80"]',
        'volumes:',
        '  - ./Caddyfile:/etc/caddy/Caddyfile:ro',
        '  - ${BERTH_UPSTREAMS}:/etc/caddy/upstreams:ro',
      ],
    },
    files: {
      Caddyfile: doorCaddyfile(upstream),
    },
  };
}

/** A product whose `web` app sits behind its own Caddy (proxyService), with the proxy image pushed:
 *  the layout of the switch, hooks and killed-deploy tests. */
export async function makeProxiedProduct(
  options: Omit<FixtureProductOptions, 'services'> & { files?: Record<string, string> },
): Promise<FixtureProduct> {
  const proxy = proxyService(options.prefix);
  const product = await makeFixtureProduct({
    ...options,
    services: {
      proxy: proxy.spec,
      web: { product: `health: { path: '/healthz', port: 8080, timeoutSeconds: 20 }, drainSeconds: 0.3` },
    },
    files: { ...proxy.files, ...options.files },
  });
  await product.pushProxy();
  return product;
}

/** The product's running containers (of one service, or all). */
export async function runningContainers(product: Pick<FixtureProduct, 'name'>, service?: string): Promise<ContainerState[]> {
  return (await listContainers(rigRunner, product.name, service)).filter((c) => c.running);
}

/** service -> container id of every running container: what "untouched" is checked against. */
export async function containerIds(product: Pick<FixtureProduct, 'name'>): Promise<Record<string, string>> {
  return Object.fromEntries((await runningContainers(product)).map((c) => [c.service, c.id]));
}

/** The version a service's container answers, asked on its own bridge address (the container
 *  this test started: the same address berth's health probe uses). */
export async function servedVersion(product: Pick<FixtureProduct, 'name'>, service: string): Promise<string> {
  const [container] = await runningContainers(product, service);
  const ip = Object.values(container?.networks ?? {})[0];
  const response = await fetch(`http://${ip}:8080/version`, { signal: AbortSignal.timeout(2_000) });
  return (await response.text()).trim();
}
