// Reading Swarm's answers about a service: which image its spec runs, whether a stack deploy gave it
// a new spec, and where that spec's rolling update stands. Pure: the step asks the engine.

/** The part of `docker service inspect` berth reads. */
export interface SwarmService {
  ID: string;
  Version?: { Index?: number };
  Spec?: {
    Name?: string;
    TaskTemplate?: { ContainerSpec?: { Image?: string } };
    Mode?: { Replicated?: { Replicas?: number }; Global?: unknown };
  };
  UpdateStatus?: { State?: string; StartedAt?: string; CompletedAt?: string; Message?: string };
}

/** One line of `docker service ps --format '{{json .}}'`. */
export interface SwarmTask {
  ID?: string;
  Name: string;
  Image: string;
  /** The node the task was given to (its hostname). */
  Node?: string;
  DesiredState: string;
  CurrentState: string;
  Error: string;
}

export type UpdateProgress =
  | { state: 'waiting'; detail: string }
  | { state: 'completed' }
  | { state: 'rolled-back'; detail: string }
  | { state: 'paused'; detail: string };

/** Where a changed service's update stands. `since` (ms since the epoch) is when the stack deploy
 *  began: an UpdateStatus older than that belongs to the previous deploy. A service without one is
 *  new (its tasks are created, not updated): the caller counts its running tasks instead. */
export function updateProgress(service: SwarmService, since: number): UpdateProgress | undefined {
  const status = service.UpdateStatus;
  if (!status?.State) return undefined;
  const started = status.StartedAt ? Date.parse(status.StartedAt) : Number.NaN;
  // The engine's clock and this process's are one clock here; a second of slack covers rounding.
  if (!(started >= since - 1_000)) return { state: 'waiting', detail: 'the update has not started yet' };
  switch (status.State) {
    case 'completed':
      return { state: 'completed' };
    case 'rollback_completed':
      return { state: 'rolled-back', detail: status.Message ?? 'rolled back' };
    case 'paused':
    case 'rollback_paused':
      return { state: 'paused', detail: status.Message ?? status.State };
    default:
      return { state: 'waiting', detail: status.Message ?? status.State };
  }
}

/** The image a service's spec names (repo:tag@sha256:...), and its digest reference repo@sha256:.... */
export function specImage(service: SwarmService): { image: string; digest?: string } | undefined {
  const image = service.Spec?.TaskTemplate?.ContainerSpec?.Image;
  if (!image) return undefined;
  const digest = digestReference(image);
  return digest ? { image, digest } : { image };
}

/** repo@sha256:... of an image reference pinned by digest (its tag, if any, dropped); undefined
 *  for one that is not pinned. */
export function digestReference(image: string): string | undefined {
  const at = image.indexOf('@');
  if (at < 0) return undefined;
  const name = image.slice(0, at);
  const tagColon = name.lastIndexOf(':');
  const repository = tagColon > name.lastIndexOf('/') ? name.slice(0, tagColon) : name;
  return `${repository}${image.slice(at)}`;
}

/** A task as the engine keeps it (`docker inspect --type task`, the Engine API's /tasks): the
 *  parts read while following an update. */
export interface TaskObject {
  ID: string;
  DesiredState?: string;
  Status?: { State?: string };
  Spec?: { ContainerSpec?: { Image?: string } };
}

/** The running tasks (of `image`, when given) a service lacks; 0 when it is up. Global services
 *  count as up with one. */
export function tasksShort(service: SwarmService, tasks: TaskObject[], image?: string): number {
  const running = tasks.filter(
    (t) => t.DesiredState === 'running' && t.Status?.State === 'running' && (!image || t.Spec?.ContainerSpec?.Image === image),
  ).length;
  const wanted = service.Spec?.Mode?.Replicated?.Replicas ?? 1;
  return Math.max(0, wanted - running);
}

/** Why tasks failed, newest first, each once: what an operator reads after a rolled back update.
 *  With `image`, also the tasks of that image that simply ended (a healthcheck that never passed
 *  stops the container, which may exit 0: Swarm then records no error at all). */
export function taskErrors(tasks: SwarmTask[], image?: string, limit = 5): string[] {
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const task of tasks) {
    const ended = task.Image === image && task.DesiredState === 'Shutdown';
    const failed = task.Error || /^(Failed|Rejected)/.test(task.CurrentState) || ended;
    if (!failed) continue;
    const why = task.Error || `ended (${task.CurrentState}) before its update was accepted`;
    const key = `${task.Image}|${task.Error}`;
    if (seen.has(key)) continue;
    seen.add(key);
    lines.push(`${task.Name.replace(/^[\\_ ]+/, '')} (${task.Image.split('@')[0]}): ${why}`);
    if (lines.length >= limit) break;
  }
  return lines;
}

/** The task that failed the update: the newest one of the new image that is not running. */
export function failedTask(tasks: SwarmTask[], image: string): SwarmTask | undefined {
  return tasks.find((task) => task.Image === image && task.DesiredState === 'Shutdown');
}

/** JSON lines as objects; blank lines skipped. */
export function jsonLines<T>(text: string): T[] {
  return text
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as T);
}
