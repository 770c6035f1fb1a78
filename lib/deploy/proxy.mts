// berth owns the switch: each HTTP service behind the Caddy front has an upstream file that the
// product's Caddyfile imports inside its reverse_proxy block (`import /etc/caddy/upstreams/web.caddy`).
// berth rewrites the file atomically and reloads Caddy gracefully. Files (not the admin API) so
// that a restarted Caddy comes back serving the same containers.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { caddyReload, dockerPort, wgetInside } from '../commands/caddy.mts';
import type { Product } from '../config/load.mts';
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

export interface ProbeAnswer {
  status: number;
  body: string;
}

async function publishedAddresses(runner: Runner, id: string, port: number): Promise<string[]> {
  const published = await runner.probe(dockerPort(id, port));
  return published.exitCode === 0 ? published.stdout.split('\n') : [];
}

/** A GET through the proxy: from the host when Caddy publishes its port, else from inside it. */
export async function getThroughProxy(runner: Runner, proxy: ContainerState, path: string, host?: string, port = 80): Promise<ProbeAnswer> {
  // The inspect berth already holds knows the published ports; `docker port` only without it.
  const lines = proxy.ports ? (proxy.ports[`${port}/tcp`] ?? []) : await publishedAddresses(runner, proxy.id, port);
  const binding = lines.find((l) => l.startsWith('127.0.0.1:') || l.startsWith('0.0.0.0:'));
  if (binding) {
    const url = `http://127.0.0.1:${binding.split(':').pop()}${path}`;
    try {
      const response = await fetch(url, { headers: host ? { host } : {}, signal: AbortSignal.timeout(5_000) });
      return { status: response.status, body: await response.text() };
    } catch {
      return { status: 0, body: '' };
    }
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
