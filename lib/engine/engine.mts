// What the engine looks like right now: is it there, and which containers a product runs.
// Containers are read through Compose labels so v1 and v2 look the same.
import { dockerInfo, dockerInspect, dockerPsIds, enginePsPath, SERVICE_LABEL, type ContainerFilter } from '../commands/docker.mts';
import { CommandError, EngineError, errorMessage } from '../core/errors.mts';
import type { Runner } from '../core/runner.mts';

/**
 * What the engine said about a container berth could not use, in a few words for one line: the
 * raw messages ("Container … is restarting, wait until the container is running", "OCI runtime
 * exec failed: …") name neither what the container is doing nor what berth does about it.
 */
export function engineSaw(error: unknown): string {
  const text = error instanceof CommandError ? `${error.stderr}\n${error.message}` : errorMessage(error);
  if (/is restarting, wait until the container is running/i.test(text)) return 'it is restarting (its process keeps exiting)';
  if (/OCI runtime exec failed|exec failed: unable to start container process/i.test(text))
    return 'the engine could not run a command in it (OCI runtime exec failed): it is starting, stopping or restarting';
  if (/is not running/i.test(text)) return 'it is not running';
  if (/No such container/i.test(text)) return 'it is gone';
  const last = text.trim().split('\n').filter(Boolean).pop() ?? 'no message';
  return last.length > 200 ? `${last.slice(0, 200)}…` : last;
}

export interface EngineInfo {
  version: string;
  rootDir: string;
  /** This node's part in a swarm, when the Engine API said (the CLI's answer leaves it out). */
  swarm?: { state: string; manager: boolean };
}

export async function checkEngine(runner: Runner): Promise<EngineInfo> {
  const info = await runner.engine?.('/info');
  if (info?.status === 200) {
    const body = info.body as {
      ServerVersion?: string;
      DockerRootDir?: string;
      Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean };
    };
    const swarm = body.Swarm?.LocalNodeState
      ? { state: body.Swarm.LocalNodeState, manager: body.Swarm.ControlAvailable === true }
      : undefined;
    return { version: body.ServerVersion ?? '', rootDir: body.DockerRootDir ?? '', ...(swarm ? { swarm } : {}) };
  }
  const result = await runner.probe(dockerInfo(), { timeoutMs: 20_000 });
  if (result.exitCode !== 0) {
    const where = process.env.DOCKER_HOST ? `at DOCKER_HOST=${process.env.DOCKER_HOST}` : 'on this machine';
    throw new EngineError(`the Docker engine ${where} is not reachable`, {
      fix: 'start it (sudo systemctl start docker, or scripts/engine-up.sh) or fix DOCKER_HOST',
    });
  }
  const [version = '', rootDir = ''] = result.stdout.trim().split('|');
  return { version, rootDir };
}

export type HealthStatus = 'healthy' | 'unhealthy' | 'starting' | 'none';

export interface ContainerState {
  id: string;
  name: string;
  service: string;
  /** The image reference the container was created from (repo:tag). */
  image: string;
  imageId: string;
  running: boolean;
  status: string;
  health: HealthStatus;
  healthLog: string[];
  /** Docker healthcheck timings in ms, when the image or compose file defines one. */
  healthcheck?: { intervalMs: number; timeoutMs: number; startPeriodMs: number; retries: number };
  restartCount: number;
  createdAt: string;
  /** When it last started: a later one than before, on the same container, is a restart. */
  startedAt?: string;
  networks: Record<string, string>;
  labels: Record<string, string>;
  /** Names of the named volumes mounted (not bind mounts). */
  volumes?: string[];
  /** Published ports: "80/tcp" -> host addresses like "127.0.0.1:32768". */
  ports?: Record<string, string[]>;
}

interface InspectJson {
  Id: string;
  Name: string;
  Image: string;
  Created: string;
  RestartCount: number;
  Config: {
    Image: string;
    Labels: Record<string, string> | null;
    Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; Retries?: number };
  };
  State: {
    Status: string;
    Running: boolean;
    StartedAt?: string;
    Health?: { Status: string; Log?: { ExitCode: number; Output: string }[] };
  };
  NetworkSettings: {
    Networks: Record<string, { IPAddress: string }> | null;
    Ports?: Record<string, { HostIp: string; HostPort: string }[] | null> | null;
  };
  Mounts?: { Type: string; Name?: string }[];
}

const NS = 1_000_000;

export function parseInspect(json: string): ContainerState[] {
  return containerStates(JSON.parse(json) as InspectJson[]);
}

function containerStates(items: InspectJson[]): ContainerState[] {
  return items.map((c) => {
    const hc = c.Config.Healthcheck;
    const hasCheck = hc?.Test && hc.Test.length > 0 && hc.Test[0] !== 'NONE';
    return {
      id: c.Id,
      name: c.Name.replace(/^\//, ''),
      service: c.Config.Labels?.[SERVICE_LABEL] ?? '',
      image: c.Config.Image,
      imageId: c.Image,
      running: c.State.Running,
      status: c.State.Status,
      health: (c.State.Health?.Status as HealthStatus | undefined) ?? 'none',
      healthLog: (c.State.Health?.Log ?? []).map((l) => `exit ${l.ExitCode}: ${l.Output.trim()}`),
      healthcheck: hasCheck
        ? {
            // Docker's own defaults when the healthcheck leaves a field out.
            intervalMs: (hc.Interval || 30_000 * NS) / NS,
            timeoutMs: (hc.Timeout || 30_000 * NS) / NS,
            startPeriodMs: (hc.StartPeriod || 0) / NS,
            retries: hc.Retries || 3,
          }
        : undefined,
      restartCount: c.RestartCount,
      createdAt: c.Created,
      ...(c.State.StartedAt ? { startedAt: c.State.StartedAt } : {}),
      networks: Object.fromEntries(Object.entries(c.NetworkSettings.Networks ?? {}).map(([n, v]) => [n, v.IPAddress])),
      labels: c.Config.Labels ?? {},
      volumes: (c.Mounts ?? []).filter((m) => m.Type === 'volume' && m.Name).map((m) => m.Name as string),
      ports: Object.fromEntries(
        Object.entries(c.NetworkSettings.Ports ?? {}).map(([port, bindings]) => [
          port,
          (bindings ?? []).map((b) => `${b.HostIp}:${b.HostPort}`),
        ]),
      ),
    };
  });
}

/** Inspect through the Engine API (no process per call); undefined when the CLI has to do it. */
async function inspectViaEngine(runner: Runner, ids: string[]): Promise<ContainerState[] | undefined> {
  if (!runner.engine) return undefined;
  const engine = runner.engine.bind(runner);
  const answers = await Promise.all(ids.map((id) => engine(`/containers/${encodeURIComponent(id)}/json`)));
  // 404: removed since it was listed (see below), like the CLI's "No such container".
  if (answers.some((a) => a === undefined || (a.status !== 200 && a.status !== 404))) return undefined;
  return containerStates(answers.filter((a) => a?.status === 200).map((a) => a?.body as InspectJson));
}

/** `docker ps` through the Engine API: [id, labels] newest first, or undefined when only the CLI can. */
async function psViaEngine(runner: Runner, filter: ContainerFilter): Promise<{ id: string; labels: Record<string, string> }[] | undefined> {
  const answer = await runner.engine?.(enginePsPath(filter));
  if (answer?.status !== 200 || !Array.isArray(answer.body)) return undefined;
  return (answer.body as { Id: string; Labels: Record<string, string> | null }[]).map((c) => ({ id: c.Id, labels: c.Labels ?? {} }));
}

/** Containers matching a filter, as [id, labels], newest first (what `docker ps` prints). */
export async function psContainers(runner: Runner, filter: ContainerFilter): Promise<{ id: string; labels: Record<string, string> }[]> {
  const viaEngine = await psViaEngine(runner, filter);
  if (viaEngine) return viaEngine;
  const ids = (await runner.read(dockerPsIds(filter))).split('\n').filter(Boolean);
  if (ids.length === 0) return [];
  return (await inspectContainers(runner, ids)).map((c) => ({ id: c.id, labels: c.labels }));
}

export async function inspectContainers(runner: Runner, ids: string[]): Promise<ContainerState[]> {
  if (ids.length === 0) return [];
  const viaEngine = await inspectViaEngine(runner, ids);
  if (viaEngine) return viaEngine;
  const all = await runner.probe(dockerInspect(ids));
  if (all.exitCode === 0) return parseInspect(all.stdout);
  // A container removed between `ps` and `inspect` (another deploy's retire, an interrupted
  // compose): it is simply gone; any other failure is real.
  if (!/No such container/i.test(all.stderr)) return parseInspect(await runner.read(dockerInspect(ids)));
  const each = await Promise.all(ids.map((id) => runner.probe(dockerInspect([id]))));
  return each.filter((r) => r.exitCode === 0).flatMap((r) => parseInspect(r.stdout));
}

export async function listContainers(runner: Runner, project: string, service?: string, all = false): Promise<ContainerState[]> {
  const filter = { project, service, all };
  const ids = (await psViaEngine(runner, filter))?.map((c) => c.id) ?? (await runner.read(dockerPsIds(filter))).split('\n').filter(Boolean);
  const containers = await inspectContainers(runner, ids);
  return containers.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

/** Whether a container has a file at one of these paths (the Engine API's archive stat, no exec);
 *  undefined when only the CLI could tell. */
export async function containerHasFile(runner: Runner, id: string, paths: string[]): Promise<boolean | undefined> {
  if (!runner.engine) return undefined;
  const engine = runner.engine.bind(runner);
  const answers = await Promise.all(
    paths.map((path) => engine(`/containers/${encodeURIComponent(id)}/archive?path=${encodeURIComponent(path)}`, 'HEAD')),
  );
  if (answers.some((a) => a?.status === 200)) return true;
  return answers.every((a) => a?.status === 404) ? false : undefined;
}
