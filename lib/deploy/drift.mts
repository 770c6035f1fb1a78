// The comparison repair and status share: what the ledger says, what the routes name and what
// runs, in; what is wrong (findings, one line each) and what repair does about it (actions), out.
// Pure: the caller reads the engine and the files (repair.mts) and acts. The orphan rule is the
// one an interrupted deploy needs: the containers the routes send traffic to are kept, the others
// go; when the routes name none, the ledger's release, else the newest healthy container.
import type { ContainerState } from '../engine/engine.mts';
import { currentRelease, type ReleaseRecord } from '../releases/ledger.mts';
import { dialAddress, isBerthUpstreams, namedIn, parseUpstreams } from './proxy.mts';

export interface DriftService {
  name: string;
  port: number;
  /** The name the proxy routes a single container by (edge.mts routedName). */
  routedName?: string;
}

export interface DriftProxy {
  /** How messages name it: "proxy", or "the edge proxy (plat/caddy)". */
  label: string;
  /** The product's own proxy service, which repair may start through Compose; undefined for the
   *  shared edge of another project, which only its own product's deploy starts. */
  service?: string;
  /** Its newest container, running or not; undefined when there is none. */
  container?: ContainerState;
  /** The last line it logged, when it is not running (why it exits). */
  lastLog?: string;
}

export interface DriftInput {
  product: string;
  /** The services berth switches behind the proxy. */
  services: DriftService[];
  /** The ledger's records; undefined when there is no ledger file at all. */
  records: ReleaseRecord[] | undefined;
  /** Each switched service's upstream file as it is on disk; undefined when missing. */
  routes: Record<string, string | undefined>;
  /** The product's containers, running or not. */
  containers: ContainerState[];
  proxy?: DriftProxy;
}

export type FindingKind =
  | 'proxy-missing'
  | 'proxy-stopped'
  | 'proxy-restarting'
  | 'route-gone'
  | 'route-missing'
  | 'route-invalid'
  | 'orphans'
  | 'unverified'
  | 'ledger-missing';

export interface Finding {
  kind: FindingKind;
  service?: string;
  line: string;
}

export type RepairAction =
  /** Remove containers an interrupted deploy left running beside the ones kept. */
  | { kind: 'remove'; service: string; containers: ContainerState[] }
  /** Write the service's upstream file. */
  | { kind: 'write-routes'; service: string; addresses: string[] }
  /** Behind the edge: give the routed name nobody holds to the container kept. */
  | { kind: 'hand-over'; service: string; container: ContainerState }
  /** Bring the product's own proxy back through Compose (then a restart if it still is not up). */
  | { kind: 'start-proxy'; service: string; container?: ContainerState }
  /** Check health and smoke of containers serving a release the ledger does not record as ok;
   *  `fallback` is a container of the ledger's release still running, to go back to if they fail. */
  | { kind: 'verify'; service: string; containers: ContainerState[]; tag?: string; fallback?: ContainerState };

export interface Drift {
  findings: Finding[];
  actions: RepairAction[];
}

/** The tag part of a container's image reference (repo:tag, a registry may carry a :port). */
export function imageTag(image: string): string | undefined {
  const name = image.slice(image.lastIndexOf('/') + 1);
  if (name.includes('@')) return undefined;
  const colon = name.indexOf(':');
  return colon >= 0 ? name.slice(colon + 1) : 'latest';
}

function names(containers: ContainerState[]): string {
  return containers.map((c) => c.name).join(', ');
}

function proxyDrift(input: DriftInput, anyRunning: boolean): Drift {
  const proxy = input.proxy;
  if (!proxy) return { findings: [], actions: [] };
  const { container, label } = proxy;
  const why = proxy.lastLog ? `: ${proxy.lastLog}` : '';
  // Nothing to route to yet (a first deploy starts the proxy once routes name a healthy container).
  if (!container) {
    if (!anyRunning) return { findings: [], actions: [] };
    return {
      findings: [{ kind: 'proxy-missing', line: `${label} is not running: no container` }],
      actions: proxy.service ? [{ kind: 'start-proxy', service: proxy.service }] : [],
    };
  }
  // A restarting container reads as running to the engine; its status says what it does.
  if (container.status === 'restarting') {
    return {
      findings: [{ kind: 'proxy-restarting', line: `${label} restarting${why || ` (restarted ${container.restartCount} times)`}` }],
      actions: proxy.service ? [{ kind: 'start-proxy', service: proxy.service, container }] : [],
    };
  }
  if (!container.running) {
    if (!anyRunning) return { findings: [], actions: [] };
    return {
      findings: [{ kind: 'proxy-stopped', line: `${label} ${container.status}${why}` }],
      actions: proxy.service ? [{ kind: 'start-proxy', service: proxy.service, container }] : [],
    };
  }
  return { findings: [], actions: [] };
}

/** One switched service: orphans, routes, and a release to re-check. */
function serviceDrift(input: DriftInput, service: DriftService, accepted: string | undefined): Drift {
  const findings: Finding[] = [];
  const actions: RepairAction[] = [];
  const { name, port } = service;
  const proxy = input.proxy?.container;
  const running = input.containers.filter((c) => c.service === name && c.running && c.status !== 'restarting');
  const text = input.routes[name];
  const upstreams = text === undefined ? [] : parseUpstreams(text);
  const invalid = text !== undefined && (!isBerthUpstreams(text, upstreams, service.routedName) || upstreams.length === 0);
  // A file berth did not write names nothing reliably: it is reported as such, not as gone routes.
  const gone = invalid ? [] : upstreams.filter((address) => !running.some((c) => namedIn([address], c, proxy, port)));
  if (gone.length > 0)
    findings.push({ kind: 'route-gone', service: name, line: `${name} routed to a container that is gone (${gone.join(', ')})` });
  if (running.length === 0) return { findings, actions };
  if (text === undefined) findings.push({ kind: 'route-missing', service: name, line: `${name} has no upstream file` });
  // A file berth did not write (edited by hand, cut short): Caddy refuses it at its next reload or start.
  else if (invalid)
    findings.push({ kind: 'route-invalid', service: name, line: `${name}'s upstream file is not what berth writes (edited by hand?)` });

  const serving = running.filter((c) => namedIn(upstreams, c, proxy, port));
  const keep =
    serving.length > 0
      ? serving
      : [
          running.find((c) => accepted !== undefined && c.imageId === accepted) ??
            running.filter((c) => c.health !== 'unhealthy').at(-1) ??
            (running.at(-1) as ContainerState),
        ];
  const orphans = running.filter((c) => !keep.includes(c));
  // Kept containers of a release the ledger never accepted (a deploy killed after its switch):
  // checked before anything records them ok, with the accepted one held back to go back to.
  const unverified = accepted !== undefined ? keep.filter((c) => c.imageId !== accepted) : [];
  const fallback = unverified.length > 0 ? orphans.find((c) => c.imageId === accepted) : undefined;
  if (orphans.length > 0) {
    findings.push({
      kind: 'orphans',
      service: name,
      line: `${name}: ${orphans.length} container(s) left by an interrupted deploy: ${names(orphans)}`,
    });
    const removable = orphans.filter((c) => c !== fallback);
    if (removable.length > 0) actions.push({ kind: 'remove', service: name, containers: removable });
  }
  const routed = service.routedName ? `${service.routedName}:${port}` : undefined;
  if (routed && serving.length === 0 && keep.length === 1 && upstreams.join(' ') === routed) {
    findings.push({ kind: 'route-gone', service: name, line: `${name}: ${service.routedName} is held by no running container` });
    actions.push({ kind: 'hand-over', service: name, container: keep[0] as ContainerState });
  } else {
    const addresses = keep.map((c) => dialAddress(c, proxy, port)).filter((a): a is string => Boolean(a));
    if (addresses.length > 0 && (addresses.join(' ') !== upstreams.join(' ') || invalid || text === undefined))
      actions.push({ kind: 'write-routes', service: name, addresses });
  }
  if (unverified.length > 0) {
    const tag = imageTag(unverified[0]?.image ?? '');
    findings.push({
      kind: 'unverified',
      service: name,
      line: `${name} serves ${tag ?? names(unverified)}, which the ledger does not record as ok (a deploy was interrupted)`,
    });
    actions.push({ kind: 'verify', service: name, containers: unverified, ...(tag ? { tag } : {}), ...(fallback ? { fallback } : {}) });
  }
  return { findings, actions };
}

/** What is wrong with a product between deploys, and what repair does about it, in order. */
export function compareDrift(input: DriftInput): Drift {
  const findings: Finding[] = [];
  const actions: RepairAction[] = [];
  const current = input.records ? currentRelease(input.records) : undefined;
  const anyRunning = input.containers.some((c) => c.running && c.status !== 'restarting');
  if (input.records === undefined && anyRunning)
    findings.push({
      kind: 'ledger-missing',
      line: `${input.product}: no ledger (never deployed by berth here, or its state dir was lost): its release history is gone and rollback has nothing to go back to until the next deploy records a release`,
    });
  for (const service of input.services) {
    const drift = serviceDrift(input, service, current?.services[service.name]?.id);
    findings.push(...drift.findings);
    actions.push(...drift.actions);
  }
  // The proxy comes back after its routes are right: it reads them when it starts.
  const proxy = proxyDrift(
    input,
    input.services.some((s) => input.containers.some((c) => c.service === s.name && c.running)),
  );
  findings.unshift(...proxy.findings);
  const verify = actions.filter((a) => a.kind === 'verify');
  return { findings, actions: [...actions.filter((a) => a.kind !== 'verify'), ...proxy.actions, ...verify] };
}
