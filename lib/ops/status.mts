// What runs now, per product and service: read from the containers themselves (the ledger says
// what berth did; the engine says what is true), joined with the ledger for who and when, and
// the releases a rollback could still reach. The dashboard reads the --json form.
import { hostname } from 'node:os';
import { dockerImageDigestsOf } from '../commands/images.mts';
import { loadCatalogue, type CatalogueEntry } from '../config/catalogue.mts';
import type { Product, Settings } from '../config/load.mts';
import { engineOf } from '../config/engine-choice.mts';
import { listContainers, type HealthStatus } from '../engine/engine.mts';
import type { Runner } from '../core/runner.mts';
import { createImageLookup, releaseSource, type ImageLookup, type ImageSource } from '../releases/availability.mts';
import { releaseReach } from '../releases/history.mts';
import { currentRelease, readLedger, type ReleaseKind, type ReleaseRecord } from '../releases/ledger.mts';
import { readUpstreams } from '../deploy/proxy.mts';
import { productDrift } from '../deploy/repair.mts';
import { productState, routeStatus, serviceStatus, summary, type ServiceInput } from './status-rules.mts';
import { swarmProductStatus, type SwarmTaskStatus } from './swarm-status.mts';

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
    products.push(await (engineOf(entry.product, settings) === 'swarm' ? swarmProductStatus : productStatus)(runner, entry, lookup));
  return { host: hostname(), time: new Date().toISOString(), products };
}
