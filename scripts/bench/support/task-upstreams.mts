// The swarm bench's fourth technique, prototyped here and not in lib/: Caddy as a swarm service
// proxying to static task addresses, switched by writing those addresses to a file it imports and
// reloading it. A Swarm task container cannot be renamed nor given a network alias (both measured:
// cluster-state errors), so Compose's name handover is not available; addresses are. Each version
// runs as a service of its own, in one of two slots, so the old one keeps serving until Caddy
// has moved. Pure: argv builders for what lib/commands has no builder for, and readers of what
// the engine answers. Not a benchmark itself: bench.mts runs only the files directly in scripts/bench/.

export type Slot = 'a' | 'b';

export const otherSlot = (slot: Slot): Slot => (slot === 'a' ? 'b' : 'a');

export function slotServiceName(stack: string, slot: Slot): string {
  return `${stack}_web-${slot}`;
}

/** One replica of `image` on the stack's overlay, resolved by DNS (dnsrr: this kernel has no IPVS),
 *  labelled as the stack's; the image's own HEALTHCHECK applies (Swarm reports the task running
 *  only once it is healthy). Detached: the caller follows the task itself, as berth does. */
export function slotServiceCreate(options: { name: string; image: string; network: string; stack: string }): string[] {
  return [
    'docker',
    'service',
    'create',
    '--detach',
    '--with-registry-auth',
    '--name',
    options.name,
    '--network',
    options.network,
    '--endpoint-mode',
    'dnsrr',
    '--replicas',
    '1',
    '--label',
    `com.docker.stack.namespace=${options.stack}`,
    options.image,
  ];
}

export function taskInspect(task: string): string[] {
  return ['docker', 'inspect', '--type', 'task', task];
}

export function serviceRemove(name: string): string[] {
  return ['docker', 'service', 'rm', name];
}

/** The containers of a service's tasks on this node, one ID a line: running ones, or with `all`
 *  stopped ones too (Swarm removes those a while after the service). */
export function serviceContainersHere(service: string, options: { all?: boolean } = {}): string[] {
  return ['docker', 'ps', ...(options.all ? ['--all'] : []), '--quiet', '--filter', `label=com.docker.swarm.service.name=${service}`];
}

/** The task that runs now, from `docker service ps --format '{{json .}}'` lines (newest first):
 *  desired and current state both running. Undefined while it starts (or is still unhealthy). */
export function runningTaskId(lines: string): string | undefined {
  for (const line of lines.split('\n')) {
    if (!line.trim()) continue;
    const task = JSON.parse(line) as { ID?: string; DesiredState?: string; CurrentState?: string };
    if (task.ID && task.DesiredState === 'Running' && /^Running\b/.test(task.CurrentState ?? '')) return task.ID;
  }
  return undefined;
}

export interface TaskAttachment {
  containerId: string;
  /** The task's IPv4 address on `network`, without its prefix length. */
  address: string;
}

/** What `docker inspect <task>` says of a running task: its container and its address on the named
 *  overlay. Throws when the task is not running there or has no such address: the switch must not
 *  point Caddy at nothing. */
export function taskAttachment(inspectJson: string, network: string): TaskAttachment {
  const [task] = JSON.parse(inspectJson) as {
    ID?: string;
    Status?: { State?: string; ContainerStatus?: { ContainerID?: string } };
    NetworksAttachments?: { Network?: { Spec?: { Name?: string } }; Addresses?: string[] }[];
  }[];
  if (!task) throw new Error('docker inspect returned no task');
  if (task.Status?.State !== 'running') throw new Error(`task ${task.ID}: ${task.Status?.State ?? 'no state'}, not running`);
  const containerId = task.Status.ContainerStatus?.ContainerID;
  if (!containerId) throw new Error(`task ${task.ID}: no container`);
  const attachment = task.NetworksAttachments?.find((a) => a.Network?.Spec?.Name === network);
  const address = attachment?.Addresses?.map((a) => a.split('/')[0] as string).find(isIpv4);
  if (!address) throw new Error(`task ${task.ID}: no IPv4 address on ${network}`);
  return { containerId, address };
}

/** A container's health from `docker inspect <container>`: none when its image has no healthcheck. */
export function containerHealth(inspectJson: string): string {
  const [container] = JSON.parse(inspectJson) as { State?: { Health?: { Status?: string } } }[];
  return container?.State?.Health?.Status ?? 'none';
}

function isIpv4(text: string): boolean {
  const parts = text.split('.');
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

/** The file Caddy imports in its site block: the one directive a switch rewrites. */
export function renderUpstreams(addresses: string[], port: number, tryDuration: string): string {
  if (addresses.length === 0) throw new Error('no upstream address: Caddy would answer 502 to every request');
  const bad = addresses.find((a) => !isIpv4(a));
  if (bad !== undefined) throw new Error(`not an IPv4 address: ${bad}`);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new Error(`not a port: ${port}`);
  const upstreams = addresses.map((a) => `${a}:${port}`).join(' ');
  return `reverse_proxy ${upstreams} {\n\tlb_try_duration ${tryDuration}\n}\n`;
}

/** Caddy's own file: fixed, so a reload changes only the imported upstreams. */
export function renderTasksCaddyfile(upstreamsPath: string): string {
  return `{\n\tauto_https off\n}\n:80 {\n\timport ${upstreamsPath}\n}\n`;
}
