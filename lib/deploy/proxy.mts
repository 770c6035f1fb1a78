// berth owns the switch: each HTTP service behind a Caddy front has an upstream list in the
// product's state. Behind the product's own proxy, its Caddyfile imports that file inside its
// reverse_proxy block (`import /etc/caddy/upstreams/web.caddy`); behind the shared edge, the list
// is rendered into the product's site file (edge.mts). Either way berth rewrites files atomically
// and reloads Caddy gracefully. Files (not the admin API) so that a restarted Caddy comes back
// serving the same containers.
import { existsSync, readFileSync } from 'node:fs';
import { get } from 'node:http';
import { get as httpsGet } from 'node:https';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { caddyReload, dockerPort, wgetInside } from '../commands/caddy.mts';
import type { Product } from '../config/load.mts';
import type { DeployContext } from './context.mts';
import { publishSites, renderSites, routedName, routedServices, siteFile, type EdgeWriter } from './edge.mts';
import { usesEdge } from './topology.mts';
import type { ContainerState } from '../engine/engine.mts';
import type { Runner } from '../core/runner.mts';
import { writeFileAtomic } from '../releases/atomic.mts';

export const UPSTREAMS_IN_CONTAINER = '/etc/caddy/upstreams';

export function upstreamsDir(product: Pick<Product, 'stateDir'>): string {
  return join(product.stateDir, 'upstreams');
}

export function upstreamFile(product: Pick<Product, 'stateDir'>, service: string): string {
  return join(upstreamsDir(product), `${service}.caddy`);
}

export function renderUpstreams(addresses: string[]): string {
  return `# Written by berth on each switch; do not edit.\nto ${addresses.join(' ')}\n`;
}

export function parseUpstreams(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => line.trim().startsWith('to '))
    .flatMap((line) => line.trim().split(/\s+/).slice(1));
}

export function readUpstreams(product: Pick<Product, 'stateDir'>, service: string): string[] | undefined {
  const file = upstreamFile(product, service);
  return existsSync(file) ? parseUpstreams(readFileSync(file, 'utf8')) : undefined;
}

export function writeUpstreams(product: Pick<Product, 'stateDir'>, service: string, addresses: string[]): void {
  // Renamed inside the bind-mounted directory: Caddy never reads half a file.
  writeFileAtomic(upstreamFile(product, service), renderUpstreams(addresses));
}

/**
 * The address Caddy dials for a container: its name, which Docker's DNS resolves to exactly that
 * container on a network the proxy shares, at every dial. Never its IP: an IP belongs to a
 * container only until an engine restart or a reconnect, and then Caddy would reach whatever took
 * it (itself, after a restart, or another service). Undefined when they share no network.
 */
export function dialAddress(container: ContainerState, proxy: ContainerState | undefined, port: number): string | undefined {
  const shared = Object.keys(container.networks).find((n) => !proxy || n in proxy.networks);
  return shared && container.name ? `${container.name}:${port}` : undefined;
}

/** Whether an upstream list names this container: by name, or by the IP an older berth wrote
 *  (read once, on the first deploy after an upgrade, and then rewritten with names). */
export function namedIn(upstreams: string[], container: ContainerState, proxy: ContainerState | undefined, port: number): boolean {
  const shared = Object.keys(container.networks).find((n) => !proxy || n in proxy.networks);
  const ip = shared ? container.networks[shared] : undefined;
  return upstreams.includes(dialAddress(container, proxy, port) ?? '') || (ip !== undefined && upstreams.includes(`${ip}:${port}`));
}

export async function reloadProxy(runner: Runner, proxy: ContainerState): Promise<void> {
  await runner.run(caddyReload(proxy.id), { timeoutMs: 30_000 });
}

/** The product's site file for the edge, from its routes and its upstream files as they are now. */
export function currentSites(product: Product): string {
  const services = routedServices(product).map((r) => ({
    ...r,
    upstreams: readUpstreams(product, r.service) ?? [],
    routedName: routedName(product.projectName, r.service),
  }));
  return renderSites(product.name, product.edge ?? { scheme: 'https' }, services);
}

/**
 * The product's routes as Caddy would take them, every upstream a stand-in name: what preflight
 * checks. Caddy resolves names only when it dials, so a site file that differs from this only in
 * which containers it names is exactly as valid.
 */
export function routeShape(product: Product): string {
  const services = routedServices(product).map((r) => {
    const name = routedName(product.projectName, r.service);
    return { ...r, upstreams: [`${name}:${product.services[r.service]?.health?.port ?? 80}`], routedName: name };
  });
  return renderSites(product.name, product.edge ?? { scheme: 'https' }, services);
}

/** Where preflight keeps the route shape the edge last accepted, so unchanged routes cost no check. */
export function checkedShapeFile(product: Pick<Product, 'stateDir'>): string {
  return join(product.stateDir, 'edge-routes.caddy');
}

export function edgeWriter(ctx: Pick<DeployContext, 'product' | 'runner' | 'options' | 'ui'>, container: ContainerState): EdgeWriter {
  return {
    runner: ctx.runner,
    edge: ctx.product.edge as NonNullable<Product['edge']>,
    container,
    product: ctx.product.name,
    tag: ctx.options.tag,
    onWait: () => ctx.ui.info('waiting for another product to finish its edge switch'),
  };
}

/**
 * Makes the proxy serve what the upstream files say now. Behind the product's own proxy: a reload.
 * Behind the edge: the product's site file, validated, then a reload; with no edge running yet
 * (the product that runs it, first deploy) the file is just written, for the edge to read at start.
 */
export async function publishUpstreams(
  ctx: Pick<DeployContext, 'product' | 'runner' | 'options' | 'ui'>,
  proxy: ContainerState | undefined,
): Promise<void> {
  if (!usesEdge(ctx)) {
    if (proxy) await reloadProxy(ctx.runner, proxy);
    return;
  }
  const text = currentSites(ctx.product);
  if (proxy) await publishSites(edgeWriter(ctx, proxy), text);
  else writeFileAtomic(siteFile(ctx.product.edge as NonNullable<Product['edge']>, ctx.product.name), text);
}

export interface ProbeAnswer {
  status: number;
  body: string;
}

async function publishedAddresses(runner: Runner, id: string, port: number): Promise<string[]> {
  const published = await runner.probe(dockerPort(id, port));
  return published.exitCode === 0 ? published.stdout.split('\n') : [];
}

/**
 * node:http(s), not fetch: fetch drops a Host header, and the edge routes by host. Over TLS the
 * host is also the SNI name, and the certificate is not judged: a smoke check asks whether the
 * release answers, and a certificate the edge is still obtaining must not undo a deploy.
 * Status 0: no answer.
 */
export function httpGet(url: string, host?: string, timeoutMs = 5_000): Promise<ProbeAnswer> {
  const tls = url.startsWith('https:');
  const options = { headers: host ? { host } : {}, timeout: timeoutMs, ...(tls ? { servername: host, rejectUnauthorized: false } : {}) };
  return new Promise((resolve) => {
    const request = (tls ? httpsGet : get)(url, options, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      response.on('error', () => resolve({ status: 0, body: '' }));
    });
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', () => resolve({ status: 0, body: '' }));
  });
}

/** A GET through the proxy: from the host when Caddy publishes its port, else from inside it. */
export async function getThroughProxy(
  runner: Runner,
  proxy: ContainerState,
  path: string,
  host?: string,
  port = 80,
  tls = false,
): Promise<ProbeAnswer> {
  // The inspect berth already holds knows the published ports; `docker port` only without it.
  const lines = proxy.ports ? (proxy.ports[`${port}/tcp`] ?? []) : await publishedAddresses(runner, proxy.id, port);
  const binding = lines.find((l) => l.startsWith('127.0.0.1:') || l.startsWith('0.0.0.0:'));
  if (binding) {
    return httpGet(`${tls ? 'https' : 'http'}://127.0.0.1:${binding.split(':').pop()}${path}`, host);
  }
  const inside = await runner.probe(wgetInside(proxy.id, `http://127.0.0.1:${port}${path}`, host));
  const status = Number(/HTTP\/[\d.]+ (\d{3})/.exec(inside.stderr)?.[1] ?? 0);
  return { status, body: inside.stdout };
}

/** A proxy container just started listens a few ms after `up` returns: wait until it answers
 *  (when its port is published, so asking costs no exec), at most `timeoutMs`. */
export async function waitUntilAnswering(runner: Runner, proxy: ContainerState, timeoutMs = 5_000, port = 80): Promise<void> {
  if (!proxy.ports?.[`${port}/tcp`]?.length) return;
  const until = Date.now() + timeoutMs;
  while ((await getThroughProxy(runner, proxy, '/', undefined, port)).status === 0 && Date.now() < until) await sleep(25);
}
