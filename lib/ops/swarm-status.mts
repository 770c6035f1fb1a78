// `status` for a product deployed to a swarm (BERTH_ENGINE=swarm): its stack's services as Swarm
// has them, each service's tasks (node, state, which digest runs) and the ledger's release. What
// runs is read from Swarm, not from Compose labels, which a stack's containers do not carry.
import type { CatalogueEntry } from '../config/catalogue.mts';
import { serviceInspect, servicePs, stackContainersHere, stackServiceName, stackServices } from '../commands/stack.mts';
import type { Runner } from '../core/runner.mts';
import { inspectContainers, type HealthStatus } from '../engine/engine.mts';
import { jsonLines, specImage, type SwarmService, type SwarmTask } from '../deploy/swarm/updates.mts';
import type { ImageLookup } from '../releases/availability.mts';
import { currentRelease, readLedger, type ReleaseRecord } from '../releases/ledger.mts';
import { rollbackTargets, type ProductStatus, type ServiceStatus } from './status.mts';

/** One task Swarm means to run now. */
export interface SwarmTaskStatus {
  id: string;
  /** <stack>_<service>.<slot> */
  name: string;
  node: string;
  /** Swarm's current state, e.g. `Running 2 minutes ago`. */
  state: string;
  /** The image the task runs, repo:tag@sha256:... */
  image: string;
  digest?: string;
  /** Read from its container when the task runs on this node; undefined elsewhere. */
  health?: HealthStatus;
  error?: string;
}

const HEALTH_ORDER: HealthStatus[] = ['unhealthy', 'starting', 'none', 'healthy'];

/** `2/2`: as many tasks run as the service wants. */
const allReplicas = (replicas: string) => {
  const [running, wanted] = replicas.split('/');
  return running === wanted;
};

/** The tag of repo:tag@sha256:... (a registry host may carry a :port). */
function tagOfPinned(image: string): string | undefined {
  const name = image.split('@')[0] ?? '';
  const colon = name.lastIndexOf(':');
  return colon > name.lastIndexOf('/') ? name.slice(colon + 1) : undefined;
}

/** The oldest ok record of the streak, ending at the newest, in which `service` ran `digest`. */
function deployedSince(records: ReleaseRecord[], service: string, digest: string): ReleaseRecord | undefined {
  const ok = records.filter((r) => r.result === 'ok');
  let since: ReleaseRecord | undefined;
  for (let i = ok.length - 1; i >= 0; i--) {
    const record = ok[i] as ReleaseRecord;
    if (record.services[service]?.digest !== digest) break;
    since = record;
  }
  return since;
}

/** Pure: one stack service's status from Swarm's spec, its tasks meant to run, and the ledger. */
export function swarmServiceStatus(
  service: { name: string; kind: string },
  swarm: SwarmService | undefined,
  tasks: SwarmTaskStatus[],
  records: ReleaseRecord[],
): ServiceStatus & { tasks: SwarmTaskStatus[]; replicas: string } {
  const running = tasks.filter((t) => t.state.startsWith('Running'));
  const wanted = swarm?.Spec?.Mode?.Replicated?.Replicas ?? (swarm?.Spec?.Mode?.Global !== undefined ? tasks.length : 1);
  const spec = swarm ? specImage(swarm) : undefined;
  const recorded = currentRelease(records)?.services[service.name]?.digest;
  // Health is a container's, known for the tasks on this node. A running task elsewhere of an http
  // service has passed its healthcheck: berth refuses an http service without one on a swarm, and
  // Swarm holds such a task in `starting` until the check passes (and replaces it if it fails).
  const known = running.flatMap((t): HealthStatus[] => (t.health ? [t.health] : service.kind === 'http' ? ['healthy'] : []));
  const since = spec?.digest ? deployedSince(records, service.name, spec.digest) : undefined;
  return {
    service: service.name,
    kind: service.kind,
    state: !swarm ? 'missing' : running.length > 0 ? 'running' : 'stopped',
    health: !swarm ? 'missing' : running.length === 0 ? 'stopped' : (HEALTH_ORDER.find((h) => known.includes(h)) ?? 'none'),
    containers: [],
    replicas: `${running.length}/${wanted}`,
    ...(spec ? { image: spec.image, tag: tagOfPinned(spec.image), ...(spec.digest ? { digest: spec.digest } : {}) } : {}),
    ...(since ? { deployedAt: since.time, deployedBy: since.who, deployKind: since.kind, release: since.tag } : {}),
    // Every task meant to run runs the digest the ledger's release recorded.
    matchesLedger: !swarm
      ? !recorded
      : running.length > 0 && running.length >= wanted && tasks.every((t) => t.digest !== undefined && t.digest === recorded),
    tasks,
  };
}

/** A task line of `docker service ps` as status shows it. */
export function taskStatus(task: SwarmTask, health?: HealthStatus): SwarmTaskStatus {
  const at = task.Image.indexOf('@');
  const name = task.Image.slice(0, at < 0 ? undefined : at);
  const tagColon = name.lastIndexOf(':');
  const repository = tagColon > name.lastIndexOf('/') ? name.slice(0, tagColon) : name;
  return {
    id: task.ID ?? '',
    name: task.Name,
    node: task.Node ?? '',
    state: task.CurrentState,
    image: task.Image,
    ...(at >= 0 ? { digest: `${repository}${task.Image.slice(at)}` } : {}),
    ...(health ? { health } : {}),
    ...(task.Error ? { error: task.Error } : {}),
  };
}

export async function swarmProductStatus(runner: Runner, entry: CatalogueEntry, lookup: ImageLookup): Promise<ProductStatus> {
  const records = readLedger(entry.stateDir);
  const current = currentRelease(records);
  const base = {
    product: entry.name,
    engine: 'swarm' as const,
    ...(current ? { release: { tag: current.tag, time: current.time, who: current.who, kind: current.kind } } : {}),
    routes: [],
    rollbackTargets: [],
    unavailable: [],
  };
  const listed = await runner.probe(stackServices(entry.projectName));
  if (listed.exitCode !== 0) {
    return {
      ...base,
      state: 'error',
      reason: `BERTH_ENGINE=swarm but Swarm does not answer here: ${listed.stderr.trim().split('\n')[0]}`,
      fix: 'run status on a swarm manager',
      services: [],
    };
  }
  const names = jsonLines<{ Name: string }>(listed.stdout).map((s) => s.Name);
  const inspected = names.length > 0 ? (JSON.parse(await runner.read(serviceInspect(names))) as SwarmService[]) : [];
  const byName = new Map(inspected.map((s) => [s.Spec?.Name ?? '', s]));
  // Health is the container's: known for the tasks on this node.
  const here = (await runner.read(stackContainersHere(entry.projectName))).split('\n').filter(Boolean);
  const health = new Map((await inspectContainers(runner, here)).map((c) => [c.labels['com.docker.swarm.task.id'] ?? '', c.health]));
  const declared = entry.product
    ? Object.values(entry.product.services).map((s) => ({ name: s.name, kind: s.kind }))
    : names.map((name) => ({ name: name.slice(entry.projectName.length + 1), kind: 'unknown' }));
  const services = await Promise.all(
    declared.map(async (service) => {
      const name = stackServiceName(entry.projectName, service.name);
      const swarm = byName.get(name);
      const tasks = swarm ? jsonLines<SwarmTask>(await runner.read(servicePs(name, { running: true }))) : [];
      return swarmServiceStatus(
        service,
        swarm,
        tasks.map((task) => taskStatus(task, health.get(task.ID ?? ''))),
        records,
      );
    }),
  );
  const deployed = services.some((s) => s.state !== 'missing');
  const routine = services.filter((s) => s.kind === 'http' || s.kind === 'worker');
  const state: ProductStatus['state'] =
    !deployed && records.length === 0
      ? 'not deployed here'
      : !services.some((s) => s.state === 'running')
        ? 'stopped'
        : routine.some((s) => s.state !== 'running' || s.health === 'unhealthy' || !allReplicas(s.replicas)) ||
            services.some((s) => s.state === 'running' && !s.matchesLedger)
          ? 'degraded'
          : 'running';
  const status: ProductStatus = { ...base, state, services: state === 'not deployed here' ? [] : services };
  if (entry.product && records.length > 0) Object.assign(status, await rollbackTargets(lookup, entry.product, records));
  return status;
}
