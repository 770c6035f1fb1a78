// The VM's shared front door: one Caddy (in common_plat or a project of its own) in front of every
// product. Each product owns one file in the edge's sites directory, `<product>.caddy`, rendered
// from its routes (products/<name>.mts) and its upstream lists (proxy.mts); the edge Caddyfile
// imports them all. A new file is validated by the edge's own Caddy beside every other product's
// current file before it goes live, and every change goes through one lock, so two products
// deploying at once never lose each other's routes: each reload reads every product's latest file.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { caddyReload, caddyValidate } from '../commands/caddy.mts';
import type { Edge, Product } from '../config/load.mts';
import type { RouteDef } from '../config/types.mts';
import type { ComposeTopLevel } from './replica/translate.mts';
import { realName } from './replica/labels.mts';
import type { ContainerState } from '../engine/engine.mts';
import { CommandError, ConfigError } from '../core/errors.mts';
import type { Runner } from '../core/runner.mts';
import { acquireLock } from '../releases/lock.mts';
import { writeFileAtomic } from '../releases/atomic.mts';

/** berth's own corner of the sites directory: the lock and the staging copy Caddy validates. */
const BERTH_DIR = '.berth';

export function siteFile(edge: Pick<Edge, 'sitesDir'>, product: string): string {
  return join(edge.sitesDir, `${product}.caddy`);
}

export interface RoutedService {
  service: string;
  routes: RouteDef[];
  /** `name:port` of each container serving it now; none before its first deploy. */
  upstreams: string[];
  /** The service's routed name (routedName): an upstream list of just that name is a handover route. */
  routedName?: string;
}

/** How often the edge asks Docker's DNS who holds a routed name: the longest a switch takes to be
 *  seen, and the least an old container must keep serving after it let go of the name. */
export const HANDOVER_REFRESH_MS = 500;

/**
 * The container name the edge routes a single-replica service by: berth hands it from the old
 * container to the new one with two renames, and the edge, which looks the name up every
 * HANDOVER_REFRESH_MS, follows without a reload, so no client connection is closed. Never a
 * name Compose gives (`<project>-<service>-<n>`, `<project>_<service>_<n>`).
 */
export function routedName(project: string, service: string): string {
  return `${project}-${service}`;
}

/** The routed services of a product, in definition order. */
export function routedServices(product: Pick<Product, 'services'>): { service: string; routes: RouteDef[] }[] {
  return Object.values(product.services)
    .filter((s) => s.kind === 'http' && s.routes)
    .map((s) => ({ service: s.name, routes: s.routes ?? [] }));
}

/**
 * The product's site blocks. One block per host; within it, longer path prefixes first and the
 * whole host last, each in a `handle` so exactly one route answers. A service with no container
 * yet has no route: Caddy answers its hosts with nothing rather than dialling a name that does
 * not resolve.
 */
export function renderSites(product: string, edge: Pick<Edge, 'scheme'>, services: RoutedService[]): string {
  const byHost = new Map<string, { path?: string; upstreams: string[]; routedName?: string }[]>();
  for (const { routes, upstreams, routedName } of services) {
    if (upstreams.length === 0) continue;
    for (const route of routes) {
      const list = byHost.get(route.host) ?? [];
      list.push({ path: route.path?.replace(/\/+$/, '') || undefined, upstreams, routedName });
      byHost.set(route.host, list);
    }
  }
  const lines = [`# Written by berth for ${product} from its routes and the containers serving them; do not edit.`];
  const scheme = edge.scheme === 'http' ? 'http://' : '';
  for (const [host, routes] of [...byHost].sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`${scheme}${host} {`);
    const ordered = [...routes].sort((a, b) => (b.path?.length ?? 0) - (a.path?.length ?? 0));
    ordered.forEach((route, i) => {
      const [only, port] = route.upstreams.length === 1 ? (route.upstreams[0] as string).split(':') : [];
      const upstreams =
        route.routedName && only === route.routedName
          ? [`\t\t\tdynamic a ${only} ${port} {`, `\t\t\t\trefresh ${HANDOVER_REFRESH_MS}ms`, '\t\t\t}']
          : [`\t\t\tto ${route.upstreams.join(' ')}`];
      const proxy = [
        '\t\treverse_proxy {',
        ...upstreams,
        // A request that meets a container on its way out, or a lookup in the instant a name
        // changes hands, is retried on another, not failed.
        '\t\t\tlb_try_duration 5s',
        '\t\t\tlb_try_interval 20ms',
        '\t\t}',
      ];
      if (route.path) {
        lines.push(`\t@route${i} path ${route.path} ${route.path}/*`, `\thandle @route${i} {`, ...proxy, '\t}');
      } else lines.push('\thandle {', ...proxy, '\t}');
    });
    lines.push('}');
  }
  return `${lines.join('\n')}\n`;
}

/** Compose networks of a service, as the real docker network names. */
function serviceNetworks(config: Record<string, unknown> | undefined, project: string, top: ComposeTopLevel): string[] {
  const keys = Array.isArray(config?.networks)
    ? config.networks.map(String)
    : config?.networks
      ? Object.keys(config.networks as Record<string, unknown>)
      : ['default'];
  return keys.map((key) => realName('network', key, project, top));
}

/** A routed service that is not on the edge's network cannot be reached by name: the fix, per service. */
export function edgeNetworkErrors(
  product: Pick<Product, 'services' | 'projectName' | 'composeFiles'>,
  edge: Pick<Edge, 'network'>,
  compose: { services: Record<string, Record<string, unknown>>; top: ComposeTopLevel },
): string[] {
  const errors: string[] = [];
  for (const { service } of routedServices(product)) {
    const networks = serviceNetworks(compose.services[service], product.projectName, compose.top);
    if (networks.includes(edge.network)) continue;
    errors.push(
      `services.${service}: not on the edge network '${edge.network}', so the edge proxy cannot reach it; in ${product.composeFiles.join(', ')} give ${service} \`networks: [default, edge]\` and add the top-level \`networks: { edge: { external: true, name: ${edge.network} } }\``,
    );
  }
  return errors;
}

/** Caddy's own complaint, without the log noise around it. */
function caddySays(error: unknown): string {
  const text = error instanceof CommandError ? error.stderr : String(error);
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const message = lines.map((l) => /"error":"([^"]+)"/.exec(l)?.[1] ?? (/^Error: (.*)/.exec(l)?.[1] as string | undefined)).filter(Boolean);
  return (message.at(-1) ?? lines.at(-1) ?? 'no message').replace(/\\"/g, '"');
}

export interface EdgeWriter {
  runner: Runner;
  edge: Edge;
  /** The running edge Caddy container. */
  container: ContainerState;
  product: string;
  /** who/what holds the edge lock, for a waiting deploy's message. */
  tag: string;
  onWait?: () => void;
}

/**
 * Validates `text` as the product's site file beside every other product's current file, in the
 * edge's own Caddy. Throws ConfigError with Caddy's message. Call with the edge lock held.
 */
async function validateStaged(writer: EdgeWriter, text: string): Promise<void> {
  const { edge, runner, container, product } = writer;
  const staging = join(edge.sitesDir, BERTH_DIR, 'staging');
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  for (const file of readdirSync(edge.sitesDir).filter((f) => f.endsWith('.caddy') && f !== `${product}.caddy`)) {
    copyFileSync(join(edge.sitesDir, file), join(staging, file));
  }
  writeFileAtomic(join(staging, `${product}.caddy`), text);
  const inContainer = `${edge.mountedAt}/${BERTH_DIR}/staging`;
  writeFileAtomic(join(staging, 'Caddyfile'), `import ${inContainer}/*.caddy\n`);
  try {
    await runner.run(caddyValidate(container.id, `${inContainer}/Caddyfile`), { timeoutMs: 30_000 });
  } catch (error) {
    throw new ConfigError(`the edge proxy refuses ${product}'s routes: ${caddySays(error)}`, {
      fix: `fix the routes in ${product}'s product file; the edge keeps serving its last good files`,
    });
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

function withEdgeLock<T>(writer: EdgeWriter, work: () => Promise<T>): Promise<T> {
  return acquireLock(
    join(writer.edge.sitesDir, BERTH_DIR),
    { tag: writer.tag, action: `edge:${writer.product}` },
    {
      wait: true,
      waitTimeoutMs: 5 * 60_000,
      onWait: writer.onWait,
    },
  ).then(async (lock) => {
    try {
      return await work();
    } finally {
      lock.release();
    }
  });
}

/** Preflight's check: would the edge take these routes? Nothing is written where Caddy reads. */
export function checkSites(writer: EdgeWriter, text: string): Promise<void> {
  return withEdgeLock(writer, () => validateStaged(writer, text));
}

/**
 * Puts the product's new site file live: renamed into place, the edge reloaded. Its routes were
 * validated in preflight (checkSites); only upstream names changed since, and a reload Caddy
 * refuses leaves its running config alone. Then the previous file is put back, so the next
 * reload (anyone's) serves what did. True when it reloaded (false: the file was already this).
 */
export function publishSites(writer: EdgeWriter, text: string): Promise<boolean> {
  const file = siteFile(writer.edge, writer.product);
  return withEdgeLock(writer, async () => {
    const previous = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
    if (previous === text) return false;
    writeFileAtomic(file, text);
    try {
      await writer.runner.run(caddyReload(writer.container.id, writer.edge.config), { timeoutMs: 30_000 });
    } catch (error) {
      if (previous === undefined) rmSync(file, { force: true });
      else writeFileAtomic(file, previous);
      throw new ConfigError(`the edge proxy did not take ${writer.product}'s routes: ${caddySays(error)}`, {
        fix: `the previous ${file} is back; check the edge Caddyfile (${writer.edge.config}) imports ${writer.edge.mountedAt}/*.caddy`,
      });
    }
    return true;
  });
}

/**
 * Takes a retired product off the edge: its site file removed, the edge reloaded so it stops
 * routing there (its hosts then get the edge's own answer for a host nobody routes). A reload
 * Caddy refuses puts the file back. Without a running edge the file just goes: an edge that
 * starts later reads the directory as it is then. False when the product had no site file.
 */
export function withdrawSites(writer: Omit<EdgeWriter, 'container'> & { container?: ContainerState }): Promise<boolean> {
  const file = siteFile(writer.edge, writer.product);
  return withEdgeLock({ ...writer, container: writer.container as ContainerState }, async () => {
    if (!existsSync(file)) return false;
    const previous = readFileSync(file, 'utf8');
    rmSync(file, { force: true });
    if (!writer.container) return true;
    try {
      await writer.runner.run(caddyReload(writer.container.id, writer.edge.config), { timeoutMs: 30_000 });
    } catch (error) {
      writeFileAtomic(file, previous);
      throw new ConfigError(`the edge proxy did not reload without ${writer.product}'s routes: ${caddySays(error)}`, {
        fix: `${file} is back and nothing else was changed; fix the edge (${writer.edge.config}) and rerun`,
      });
    }
    return true;
  });
}
