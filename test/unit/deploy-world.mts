// A small fake engine for the deploy step tests: containers answered through the fake runner's
// command table (docker ps, docker inspect, docker image inspect), plus a product and a context.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMPOSE_V1 } from '../../lib/commands/compose.mts';
import type { Product, Settings } from '../../lib/config/load.mts';
import type { DeployContext, DeployOptions } from '../../lib/deploy/context.mts';
import { createDeployContext } from '../../lib/deploy/deploy-product.mts';
import type { ContainerState } from '../../lib/engine/engine.mts';
import type { Ui } from '../../lib/core/ui.mts';
import { containerState } from '../support/containers.mts';
import { fakeRunner, type Row } from '../support/fake-runner.mts';

/** A UI that keeps every line: steps as `==> title`, then ok / skipped: / FAILED:; results as `stdout: `. */
export function recordingUi(): Ui & { lines: string[] } {
  const lines: string[] = [];
  const push = (prefix: string) => (message: string) => void lines.push(`${prefix}${message}`);
  return {
    verbose: false,
    lines,
    step: (title) => {
      lines.push(`==> ${title}`);
      return { update: push('  '), succeed: () => void lines.push('  ok'), skip: push('  skipped: '), fail: push('  FAILED: ') };
    },
    info: push('  '),
    warn: push('warning: '),
    error: push('error: '),
    debug: () => {},
    detail: () => {},
    result: (result) => [result].flat().forEach(push('stdout: ')),
    json: () => {},
  };
}

export interface FakeContainer {
  id: string;
  service: string;
  imageId?: string;
  running?: boolean;
  health?: string;
  ip?: string;
  created?: string;
  /** State.StartedAt: a container restarted by the engine starts again at a later time. */
  started?: string;
  ports?: Record<string, { HostIp: string; HostPort: string }[]>;
  /** The container's name, when a test needs one other than Compose v1's (a routed name). */
  name?: string;
}

export function inspectJson(c: FakeContainer, project = 'shop') {
  return {
    Id: c.id,
    Name: `/${c.name ?? `${project}_${c.service}_${c.id}`}`,
    Image: c.imageId ?? `sha256:${c.service}-old`,
    Created: c.created ?? `2026-01-01T00:00:0${c.id.length % 10}Z`,
    RestartCount: 0,
    Config: { Image: `reg/${c.service}:x`, Labels: { 'com.docker.compose.project': project, 'com.docker.compose.service': c.service } },
    State: {
      Status: c.running === false ? 'exited' : 'running',
      Running: c.running !== false,
      ...(c.started ? { StartedAt: c.started } : {}),
      ...(c.health ? { Health: { Status: c.health } } : {}),
    },
    NetworkSettings: { Networks: { [`${project}_default`]: { IPAddress: c.ip ?? '10.0.0.9' } }, Ports: c.ports ?? {} },
  };
}

/** Rows answering `docker ps` and `docker inspect` from a live list of containers. */
export function engineRows(containers: FakeContainer[], project = 'shop'): Row[] {
  return [
    [
      /^docker ps --quiet --no-trunc/,
      (argv) => {
        const all = argv.includes('--all');
        const service = argv.find((a) => a.startsWith('label=com.docker.compose.service='))?.split('=')[2];
        const ids = containers.filter((c) => (all || c.running !== false) && (!service || c.service === service)).map((c) => c.id);
        return { stdout: ids.join('\n') };
      },
    ],
    [
      /^docker inspect --type container /,
      (argv) => ({
        stdout: JSON.stringify(argv.slice(4).flatMap((id) => containers.filter((c) => c.id === id).map((c) => inspectJson(c, project)))),
      }),
    ],
  ];
}

export function shopProduct(services: Product['services'], stateDir = mkdtempSync(join(tmpdir(), 'berth-unit-deploy-'))): Product {
  return {
    def: { name: 'shop', repo: '/srv/shop', composeFiles: ['c.yml'], services: {} },
    name: 'shop',
    file: 'products/shop.mts',
    repoDir: '/srv/shop',
    composeFiles: ['c.yml'],
    projectName: 'shop',
    registry: 'reg',
    stateDir,
    services,
  } as Product;
}

export const WEB_BEHIND_PROXY: Product['services'] = {
  proxy: { name: 'proxy', kind: 'proxy', repository: 'reg/caddy' },
  web: { name: 'web', kind: 'http', repository: 'reg/web', health: { path: '/healthz', port: 8080 } },
  worker: { name: 'worker', kind: 'worker', repository: 'reg/worker' },
} as Product['services'];

export function container(c: FakeContainer): ContainerState {
  return containerState({
    id: c.id,
    service: c.service,
    image: `reg/${c.service}:x`,
    imageId: c.imageId ?? `sha256:${c.service}-old`,
    running: c.running !== false,
    health: (c.health as ContainerState['health']) ?? 'none',
    networks: { shop_default: c.ip ?? '10.0.0.9' },
  });
}

/** A context as preflight leaves it, over a fake runner answering `rows` (and the engine rows). */
export function deployContext(product: Product, rows: Row[], options: Partial<DeployOptions> = {}, proxy?: ContainerState) {
  const runner = fakeRunner(rows, { dryRun: options.dryRun });
  const ui = recordingUi();
  const ctx: DeployContext = createDeployContext(product, { env: {} } as unknown as Settings, runner, ui, { tag: 'v2', ...options });
  const flavour = { ...COMPOSE_V1, version: '1.29.2' };
  ctx.found = {
    flavour,
    project: { flavour, name: 'shop', directory: '/srv/shop', files: ['/srv/shop/c.yml'] },
    compose: { services: {}, top: {} },
    ...(proxy ? { proxy } : {}),
  };
  return { ctx, runner, ui };
}
