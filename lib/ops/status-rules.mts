// How status is judged, with no engine call: a service from its containers, the ledger and the
// running image's digests; a product from its services; a route from the containers its upstream
// file names. status.mts gathers those facts and hands them here.
import type { CatalogueEntry } from '../config/catalogue.mts';
import type { Product } from '../config/load.mts';
import type { ContainerState, HealthStatus } from '../engine/engine.mts';
import { currentRelease, type ReleaseRecord } from '../releases/ledger.mts';
import { routedServices } from '../deploy/edge.mts';
import { configIdentity } from '../deploy/replica/labels.mts';
import type { ProductState, ReleaseSummary, RouteStatus, ServiceStatus } from './status.mts';

const HEALTH_ORDER: HealthStatus[] = ['unhealthy', 'starting', 'none', 'healthy'];

export function summary(r: ReleaseRecord): ReleaseSummary {
  return { tag: r.tag, time: r.time, who: r.who, kind: r.kind };
}

/** The tag part of repo:tag (a registry host may carry a :port, so only after the last /). */
export function tagOf(image: string): string | undefined {
  const name = image.slice(image.lastIndexOf('/') + 1);
  const at = name.indexOf('@');
  const colon = name.indexOf(':');
  if (at >= 0) return undefined;
  return colon >= 0 ? name.slice(colon + 1) : 'latest';
}

/** The oldest ok record of the streak of records, ending at the newest, in which `service` ran `id`. */
export function deployedBy(records: ReleaseRecord[], service: string, id: string): ReleaseRecord | undefined {
  const ok = records.filter((r) => r.result === 'ok');
  let since: ReleaseRecord | undefined;
  for (let i = ok.length - 1; i >= 0; i--) {
    const record = ok[i] as ReleaseRecord;
    if (record.services[service]?.id !== id) break;
    since = record;
  }
  return since;
}

export interface ServiceInput {
  name: string;
  kind: string;
  repository?: string;
}

/** Pure: one service's status from its containers, the ledger and the running image's digests. */
export function serviceStatus(
  service: ServiceInput,
  containers: ContainerState[],
  records: ReleaseRecord[],
  digests: Record<string, string[]>,
): ServiceStatus {
  const running = containers.filter((c) => c.running);
  const shown = running.length > 0 ? running : containers.slice(-1);
  const newest = shown.at(-1);
  const base: ServiceStatus = {
    service: service.name,
    kind: service.kind,
    state: running.length > 0 ? 'running' : containers.length > 0 ? 'stopped' : 'missing',
    health:
      running.length > 0
        ? (HEALTH_ORDER.find((h) => running.some((c) => c.health === h)) ?? 'none')
        : containers.length > 0
          ? 'stopped'
          : 'missing',
    containers: shown.map((c) => ({
      id: c.id.slice(0, 12),
      name: c.name,
      status: c.status,
      health: c.health,
      createdAt: c.createdAt,
      restartCount: c.restartCount,
    })),
    matchesLedger: false,
  };
  if (!newest) return { ...base, matchesLedger: !currentRelease(records)?.services[service.name] };
  const repoDigests = digests[newest.imageId] ?? [];
  const digest = repoDigests.find((d) => service.repository && d.startsWith(`${service.repository}@`)) ?? repoDigests[0];
  const since = deployedBy(records, service.name, newest.imageId);
  const current = currentRelease(records)?.services[service.name];
  const recordedConfig = current?.config;
  return {
    ...base,
    ...(recordedConfig && running.length > 0 ? { configMatches: running.every((c) => configIdentity(c.labels) === recordedConfig) } : {}),
    tag: tagOf(newest.image),
    image: newest.image,
    imageId: newest.imageId,
    ...(digest ? { digest } : {}),
    ...(since ? { deployedAt: since.time, deployedBy: since.who, deployKind: since.kind, release: since.tag } : {}),
    matchesLedger: running.length > 0 && running.every((c) => c.imageId === current?.id),
  };
}

/** A definition that is wrong is an error wherever it is; a repo that is not on this machine is
 *  normal, unless the product has run here (containers, a ledger) and now cannot be managed. */
export function productState(
  entry: Pick<CatalogueEntry, 'problem' | 'absent'>,
  services: ServiceStatus[],
  records: ReleaseRecord[],
): ProductState {
  const anyContainer = services.some((s) => s.state !== 'missing');
  if (entry.problem && !entry.absent) return 'error';
  if (!anyContainer && records.length === 0) return 'not deployed here';
  if (entry.problem) return 'error';
  if (!services.some((s) => s.state === 'running')) return 'stopped';
  const routine = services.filter((s) => s.kind === 'http' || s.kind === 'worker');
  // 'starting' is Docker not having run its first check yet: berth's own probe already passed
  // (it answers sooner), so only a failing verdict degrades the product.
  const unwell = routine.some((s) => s.state !== 'running' || s.health === 'unhealthy');
  const drifted = services.some((s) => s.state === 'running' && !s.matchesLedger);
  return unwell || drifted ? 'degraded' : 'running';
}

/** Pure: each route of the product, and whether each container its upstream file names runs. */
export function routeStatus(
  product: Pick<Product, 'services' | 'edge'>,
  containers: ContainerState[],
  upstreamsOf: (service: string) => string[] | undefined,
): RouteStatus[] {
  const reach = (service: string): RouteStatus['upstreams'] =>
    (upstreamsOf(service) ?? []).map((address) => {
      const name = address.replace(/:\d+$/, '');
      const container = containers.find((c) => c.name === name || Object.values(c.networks).includes(name));
      if (!container) return { address, state: 'missing' };
      return { address, container: container.name, state: container.running ? 'running' : 'stopped', health: container.health };
    });
  const routed = product.edge ? routedServices(product) : [];
  if (routed.length > 0) {
    return routed.flatMap(({ service, routes }) =>
      routes.map((r) => ({ host: r.host, ...(r.path ? { path: r.path } : {}), service, via: 'edge', upstreams: reach(service) })),
    );
  }
  const proxy = Object.values(product.services).find((s) => s.kind === 'proxy')?.name;
  if (!proxy) return [];
  return Object.values(product.services)
    .filter((s) => s.kind === 'http' && upstreamsOf(s.name) !== undefined)
    .map((s) => ({ service: s.name, via: proxy, upstreams: reach(s.name) }));
}
