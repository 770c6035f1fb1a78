// What runs now, per product and service: read from the containers themselves (the ledger says
// what berth did; the engine says what is true), joined with the ledger for who and when, and
// the releases a rollback could still reach. The dashboard reads the --json form.
import { hostname } from 'node:os';
import { dockerImageDigestsOf } from '../commands/images.mts';
import { loadCatalogue, type CatalogueEntry } from '../config/catalogue.mts';
import type { Product, Settings } from '../config/load.mts';
import { listContainers, type ContainerState, type HealthStatus } from '../engine/engine.mts';
import type { Runner } from '../core/runner.mts';
import { createImageLookup, releaseSource, type ImageLookup, type ImageSource } from '../releases/availability.mts';
import { releaseReach, shortTag } from '../releases/history.mts';
import { currentRelease, readLedger, type ReleaseKind, type ReleaseRecord } from '../releases/ledger.mts';
import { routedServices } from '../deploy/edge.mts';
import { readUpstreams } from '../deploy/proxy.mts';
import { configIdentity } from '../deploy/replica/labels.mts';
import { productDrift } from '../deploy/repair.mts';
import { formatTasks, swarmProductStatus, type SwarmTaskStatus } from './swarm-status.mts';

export interface ContainerSummary {
  id: string;
  name: string;
  status: string;
  health: HealthStatus;
  createdAt: string;
  restartCount: number;
}

export interface ServiceStatus {
  service: string;
  kind: string;
  state: 'running' | 'stopped' | 'missing';
  /** The tag the running container was created from (the release SHA). */
  tag?: string;
  image?: string;
  imageId?: string;
  digest?: string;
  health: HealthStatus | 'stopped' | 'missing';
  containers: ContainerSummary[];
  /** From the ledger: since when, by whom and through which release this image has run. */
  deployedAt?: string;
  deployedBy?: string;
  deployKind?: ReleaseKind;
  release?: string;
  /** False when the running image is not what the ledger's current release says. */
  matchesLedger: boolean;
  /** False when a running container was created from another config than the one its release
   *  recorded (a Compose run by hand since, say); absent when the release recorded none. */
  configMatches?: boolean;
  /** On a swarm: the tasks meant to run (no containers listed), and `running/wanted`. */
  tasks?: SwarmTaskStatus[];
  replicas?: string;
}

export interface ReleaseSummary {
  tag: string;
  time: string;
  who: string;
  kind: ReleaseKind;
}

export interface RollbackTarget extends ReleaseSummary {
  images: Exclude<ImageSource, 'missing'>;
}

/** One route and the containers its proxy sends it to now (what berth's upstream file names). */
export interface RouteStatus {
  /** Undefined behind a product's own proxy, which routes in its own Caddyfile. */
  host?: string;
  path?: string;
  service: string;
  /** 'edge', or the product's own proxy service. */
  via: string;
  upstreams: { address: string; container?: string; state: 'running' | 'stopped' | 'missing'; health?: HealthStatus }[];
}

export type ProductState = 'running' | 'degraded' | 'stopped' | 'not deployed here' | 'error';

export interface ProductStatus {
  product: string;
  /** Set when the product runs on a swarm (BERTH_ENGINE=swarm). */
  engine?: 'swarm';
  state: ProductState;
  /** Why the product is not deployed here, or in error. */
  reason?: string;
  /** What to do about an error. */
  fix?: string;
  release?: ReleaseSummary;
  services: ServiceStatus[];
  routes: RouteStatus[];
  /** Releases a rollback can reach now, newest first; the current one is not among them. */
  rollbackTargets: RollbackTarget[];
  /** Recorded releases whose images are gone from the engine and the registry. */
  unavailable: { tag: string; reason: string }[];
  /** What `scripts/repair.mts` would mend, one line each (the comparison repair makes). */
  drift?: string[];
}

export interface StatusReport {
  host: string;
  time: string;
  products: ProductStatus[];
}

const HEALTH_ORDER: HealthStatus[] = ['unhealthy', 'starting', 'none', 'healthy'];

function summary(r: ReleaseRecord): ReleaseSummary {
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

async function imageDigests(runner: Runner, ids: string[]): Promise<Record<string, string[]>> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return {};
  const result = await runner.probe(dockerImageDigestsOf(unique));
  const digests: Record<string, string[]> = {};
  // An image removed since its container started is simply not listed.
  for (const line of result.stdout.split('\n').filter(Boolean)) {
    const [id = '', json = '[]'] = line.split('|');
    try {
      digests[id] = JSON.parse(json) as string[];
    } catch {
      digests[id] = [];
    }
  }
  return digests;
}

export async function rollbackTargets(
  lookup: ImageLookup,
  product: Product,
  records: ReleaseRecord[],
): Promise<Pick<ProductStatus, 'rollbackTargets' | 'unavailable'>> {
  const current = currentRelease(records)?.tag;
  const targets: RollbackTarget[] = [];
  const unavailable: { tag: string; reason: string }[] = [];
  for (const { release, services, checks } of await releaseReach(lookup, product, records, [current])) {
    const source = services.length === 0 ? 'missing' : releaseSource(checks);
    if (source === 'missing') {
      unavailable.push({
        tag: release.tag,
        reason:
          checks
            .filter((c) => c.source === 'missing')
            .map((c) => `${c.service}: ${c.detail}`)
            .join('; ') || 'no images recorded',
      });
    } else {
      targets.push({ ...summary(release), images: source });
    }
  }
  return { rollbackTargets: targets, unavailable };
}

export async function productStatus(runner: Runner, entry: CatalogueEntry, lookup: ImageLookup): Promise<ProductStatus> {
  const records = readLedger(entry.stateDir);
  const containers = await listContainers(runner, entry.projectName, undefined, true);
  const declared: ServiceInput[] = entry.product
    ? Object.values(entry.product.services).map((s) => ({ name: s.name, kind: s.kind, repository: s.repository }))
    : [...new Set(containers.map((c) => c.service))].map((name) => ({ name, kind: 'unknown' }));
  const digests = await imageDigests(
    runner,
    containers.map((c) => c.imageId),
  );
  const services = declared.map((s) =>
    serviceStatus(
      s,
      containers.filter((c) => c.service === s.name),
      records,
      digests,
    ),
  );
  const state = productState(entry, services, records);
  const current = currentRelease(records);
  const status: ProductStatus = {
    product: entry.name,
    state,
    ...(entry.problem ? { reason: entry.problem } : {}),
    ...(entry.fix && state === 'error' ? { fix: entry.fix } : {}),
    ...(current ? { release: summary(current) } : {}),
    services: state === 'not deployed here' ? [] : services,
    routes:
      entry.product && state !== 'not deployed here'
        ? routeStatus(entry.product, containers, (s) => readUpstreams(entry.product as Product, s))
        : [],
    rollbackTargets: [],
    unavailable: [],
  };
  if (entry.product && records.length > 0) Object.assign(status, await rollbackTargets(lookup, entry.product, records));
  if (entry.product && state !== 'not deployed here') {
    const drift = (await productDrift({ product: entry.product, runner })).findings.map((f) => f.line);
    if (drift.length > 0) {
      status.drift = drift;
      if (status.state === 'running') status.state = 'degraded';
    }
  }
  return status;
}

export async function collectStatus(runner: Runner, settings: Settings, names?: string[]): Promise<StatusReport> {
  const catalogue = await loadCatalogue(settings, names);
  const lookup = await createImageLookup(runner);
  const products: ProductStatus[] = [];
  for (const entry of catalogue)
    products.push(await (settings.engine === 'swarm' ? swarmProductStatus : productStatus)(runner, entry, lookup));
  return { host: hostname(), time: new Date().toISOString(), products };
}

// ---------------------------------------------------------------------------------------------

function ago(iso: string | undefined, now: number): string {
  if (!iso) return '-';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.round(s / 60)}m ago`;
  if (s < 172_800) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86_400)}d ago`;
}

/** Products whose ledger, routes and containers disagree: `scripts/repair.mts` mends them. */
export function driftedProducts(report: StatusReport): string[] {
  return report.products.filter((p) => (p.drift?.length ?? 0) > 0).map((p) => p.product);
}

/** One `error:` line per product in error, naming the fix. */
export function productErrors(report: StatusReport): string[] {
  return report.products
    .filter((p) => p.state === 'error')
    .map((p) => `${p.product}: ${p.reason ?? 'cannot be loaded'}${p.fix ? `: ${p.fix}` : ''}`);
}

/** The human form: one block per product, a row per service. */
export function formatStatus(report: StatusReport, now = Date.now()): string[] {
  const lines: string[] = [];
  for (const p of report.products) {
    if (p.state === 'not deployed here') {
      lines.push(`${p.product}: not deployed here${p.reason ? ` (${p.reason.split('; ')[0]})` : ''}`);
      continue;
    }
    // Nothing ran it here: the reason is all there is to say.
    if (p.state === 'error' && p.services.length === 0 && !p.release) {
      lines.push(`${p.product}: error (${p.reason ?? 'cannot be loaded'})`);
      continue;
    }
    const release = p.release
      ? `${shortTag(p.release.tag)} ${p.release.kind} by ${p.release.who} ${ago(p.release.time, now)}`
      : 'no release recorded';
    lines.push(`${p.product}: ${p.state}, release ${release}${p.reason ? ` (${p.reason})` : ''}`);
    for (const s of p.services) {
      const digest = s.digest ? s.digest.slice(s.digest.indexOf('@') + 8, s.digest.indexOf('@') + 20) : (s.imageId?.slice(7, 19) ?? '-');
      const who = s.deployedAt
        ? `${s.deployKind} by ${s.deployedBy} ${ago(s.deployedAt, now)}`
        : s.state === 'missing'
          ? ''
          : 'not in the ledger';
      const drift =
        s.state === 'running' && !s.matchesLedger
          ? '  (differs from the ledger)'
          : s.configMatches === false
            ? `  (config differs from ${shortTag(p.release?.tag ?? 'its release')}'s: deploy it again to apply it)`
            : '';
      lines.push(
        `  ${s.service.padEnd(12)} ${s.state.padEnd(8)} ${s.health.padEnd(9)} ${shortTag(s.tag ?? '-').padEnd(12)} ${digest.padEnd(12)} ${who}${drift}`,
      );
      lines.push(...formatTasks(s));
    }
    for (const r of p.routes) {
      const reaches = r.upstreams.map((u) => `${u.container ?? u.address} (${u.state === 'running' ? (u.health ?? 'running') : u.state})`);
      lines.push(
        `  route ${`${r.host ?? `via ${r.via}`}${r.path ?? ''}`.padEnd(24)} -> ${r.service}: ${reaches.join(', ') || 'no container yet'}`,
      );
    }
    for (const line of p.drift ?? []) lines.push(`  drift: ${line}`);
    const targets = p.rollbackTargets.map((t) => `${shortTag(t.tag)}${t.images === 'registry' ? ' (pull)' : ''}`);
    lines.push(
      `  rollback to: ${targets.join(', ') || 'none'}${p.unavailable.length ? `  (${p.unavailable.length} older release${p.unavailable.length > 1 ? 's' : ''} no longer available)` : ''}`,
    );
  }
  return lines;
}
