// berth owns the switch: each HTTP service behind a Caddy front has an upstream list in the
// product's state. Behind the product's own proxy, its Caddyfile imports that file inside its
// reverse_proxy block (`import /etc/caddy/upstreams/web.caddy`); behind the shared edge, the list
// is rendered into the product's site file (edge.mts). A single-replica service is routed by a
// name of its own that Caddy looks up every HANDOVER_REFRESH_MS (`dynamic a`), and a switch hands
// that name to the new container (handover.mts): the file stays the same, so there is no reload
// and no client connection is closed. A list of names (several replicas) changes the file, and
// that is a graceful reload. Files (not the admin API) so that a restarted Caddy comes back
// serving the same containers.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { get } from 'node:http';
import { get as httpsGet } from 'node:https';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { caddyReload, dockerPort, wgetInside } from '../commands/caddy.mts';
import type { Product } from '../config/load.mts';
import type { DeployContext } from './context.mts';
import { HANDOVER_REFRESH_MS, publishSites, renderSites, routedName, routedServices, siteFile, type EdgeWriter } from './edge.mts';
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

/**
 * The upstream file. Just the service's routed name (`routed`): Caddy looks the name up again every
 * HANDOVER_REFRESH_MS, so handing it to another container needs no reload. Otherwise a fixed list.
 */
export function renderUpstreams(addresses: string[], routed?: string): string {
  const head = '# Written by berth on each switch; do not edit.';
  const [only, port] = addresses.length === 1 ? (addresses[0] as string).split(':') : [];
  if (routed && only === routed && port) return `${head}\ndynamic a ${only} ${port} {\n\trefresh ${HANDOVER_REFRESH_MS}ms\n}\n`;
  return `${head}\nto ${addresses.join(' ')}\n`;
}

/** The addresses an upstream file routes to: `name:port` for a routed name, each `to` entry for a list. */
export function parseUpstreams(text: string): string[] {
  return text.split('\n').flatMap((raw) => {
    const line = raw.trim();
    if (line.startsWith('to ')) return line.split(/\s+/).slice(1);
    const dynamic = /^dynamic\s+a\s+(\S+)\s+(\d+)/.exec(line);
    return dynamic ? [`${dynamic[1]}:${dynamic[2]}`] : [];
  });
}

/** Whether `text` is a file berth wrote for these addresses, in either form. */
export function isBerthUpstreams(text: string, addresses: string[], routed?: string): boolean {
  return text === renderUpstreams(addresses, routed) || text === renderUpstreams(addresses);
}

export function readUpstreams(product: Pick<Product, 'stateDir'>, service: string): string[] | undefined {
  const file = upstreamFile(product, service);
  return existsSync(file) ? parseUpstreams(readFileSync(file, 'utf8')) : undefined;
}

export function writeUpstreams(product: Pick<Product, 'stateDir' | 'projectName'>, service: string, addresses: string[]): void {
  // Renamed inside the bind-mounted directory: Caddy never reads half a file.
  writeFileAtomic(upstreamFile(product, service), renderUpstreams(addresses, routedName(product.projectName, service)));
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

/** The product's own proxy's upstream files as of its last reload by berth, to tell whether the next one is needed. */
function loadedFile(product: Pick<Product, 'stateDir'>): string {
  return join(product.stateDir, 'upstreams-loaded');
}

function upstreamTexts(product: Pick<Product, 'stateDir'>): string {
  const dir = upstreamsDir(product);
  if (!existsSync(dir)) return '';
  return readdirSync(dir)
    .filter((f) => f.endsWith('.caddy'))
    .sort()
    .map((f) => `${f}\n${readFileSync(join(dir, f), 'utf8')}`)
    .join('\n');
}

/**
 * Reloads the product's own proxy unless it already runs these files: a handover leaves them as
 * they were, and a reload would close idle client connections for nothing. Compared with what the
 * last successful reload loaded (not with the file before this write), so a deploy killed between
 * writing and reloading still reloads next time. True when it reloaded.
 */
export async function reloadOwnProxy(runner: Runner, product: Pick<Product, 'stateDir'>, proxy: ContainerState): Promise<boolean> {
  const texts = upstreamTexts(product);
  const stamp = loadedFile(product);
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === texts) return false;
  await reloadProxy(runner, proxy);
  writeFileAtomic(stamp, texts);
  return true;
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
 * Makes the proxy serve what the upstream files say now; true when it reloaded. Behind the
 * product's own proxy: a reload, when the files differ from what it last loaded. Behind the edge: the product's site file,
 * validated, then a reload; with no edge running yet (the product that runs it, first deploy) the
 * file is just written, for the edge to read at start.
 */
export async function publishUpstreams(
  ctx: Pick<DeployContext, 'product' | 'runner' | 'options' | 'ui'>,
  proxy: ContainerState | undefined,
): Promise<boolean> {
  if (!usesEdge(ctx)) {
    if (!proxy) return false;
    const reloaded = await reloadOwnProxy(ctx.runner, ctx.product, proxy);
    if (!reloaded) ctx.ui.debug('the proxy already runs these upstreams: no reload');
    return reloaded;
  }
  const text = currentSites(ctx.product);
  if (proxy) return publishSites(edgeWriter(ctx, proxy), text);
  writeFileAtomic(siteFile(ctx.product.edge as NonNullable<Product['edge']>, ctx.product.name), text);
  return false;
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
