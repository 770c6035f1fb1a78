// Pure argv builders for Docker Compose. Both flavours take the same global flags for what berth
// uses; where they differ the builder takes the flavour, so callers never branch on it.
import { createHash } from 'node:crypto';

export type ComposeFlavourName = 'v2' | 'v1';

export interface ComposeFlavour {
  name: ComposeFlavourName;
  /** The argv prefix: ['docker', 'compose'] or ['docker-compose']. */
  bin: string[];
  version: string;
}

export const COMPOSE_V2: Omit<ComposeFlavour, 'version'> = { name: 'v2', bin: ['docker', 'compose'] };
export const COMPOSE_V1: Omit<ComposeFlavour, 'version'> = { name: 'v1', bin: ['docker-compose'] };

export interface ComposeProject {
  flavour: ComposeFlavour;
  name: string;
  directory: string;
  files: string[];
}

export function composeVersion(bin: string[]): string[] {
  return [...bin, 'version', '--short'];
}

export function composeBase(project: ComposeProject): string[] {
  const files = project.files.flatMap((file) => ['-f', file]);
  return [...project.flavour.bin, '--project-name', project.name, '--project-directory', project.directory, ...files];
}

export function composePull(project: ComposeProject, services: string[]): string[] {
  // v2's --quiet also hides why a pull failed (exit 18, empty stderr): it prints its progress instead.
  const quiet = project.flavour.name === 'v1' ? ['--quiet'] : [];
  return [...composeBase(project), 'pull', ...quiet, ...services];
}

export interface UpOptions {
  /** Replace only the named services, never their dependencies. */
  noDeps?: boolean;
  forceRecreate?: boolean;
  noRecreate?: boolean;
  scale?: Record<string, number>;
  /** The VM never builds unless the operator asked for the emergency path. */
  build?: boolean;
}

export function composeUp(project: ComposeProject, services: string[], options: UpOptions = {}): string[] {
  const argv = [...composeBase(project), 'up', '--detach'];
  if (options.noDeps ?? true) argv.push('--no-deps');
  argv.push(options.build ? '--build' : '--no-build');
  if (options.forceRecreate) argv.push('--force-recreate');
  if (options.noRecreate) argv.push('--no-recreate');
  for (const [service, count] of Object.entries(options.scale ?? {})) argv.push('--scale', `${service}=${count}`);
  return [...argv, ...services];
}

export function composeBuild(project: ComposeProject, services: string[]): string[] {
  return [...composeBase(project), 'build', ...services];
}

export function composeRun(project: ComposeProject, service: string, command: string[]): string[] {
  return [...composeBase(project), 'run', '--rm', '--no-deps', '-T', service, ...command];
}

/** A hook's one-off container: named, so one stopped at its timeout can be removed by name, and
 *  handed variables by name only (`-e NAME`), so their values come from the environment, never argv. */
export function composeRunNamed(
  project: ComposeProject,
  service: string,
  command: string[],
  options: { name: string; env: string[] },
): string[] {
  const env = options.env.flatMap((name) => ['-e', name]);
  return [...composeBase(project), 'run', '--rm', '--no-deps', '-T', '--name', options.name, ...env, service, ...command];
}

export function composeConfig(project: ComposeProject): string[] {
  return [...composeBase(project), 'config'];
}

export function composeConfigServices(project: ComposeProject): string[] {
  return [...composeBase(project), 'config', '--services'];
}

export function composeConfigHash(project: ComposeProject, services: string[]): string[] {
  return [...composeBase(project), 'config', `--hash=${services.join(',')}`];
}

/** `config --hash` output (`svc hash` lines) as service -> hash. */
export function parseConfigHashes(stdout: string): Record<string, string> {
  const hashes: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const [service, hash] = line.trim().split(/\s+/);
    if (service && hash && /^[0-9a-f]{64}$/.test(hash)) hashes[service] = hash;
  }
  return hashes;
}

/**
 * Whether asking `config --hash` before a direct start is worth its call. Both flavours answer
 * with the label `up` compares, but v1 is a Python start-up (~0.5 s, the time the direct start
 * saves) and mixes the local image id into it; v2 answers in ~70 ms.
 */
export function configHashIsCheap(flavour: Pick<ComposeFlavour, 'name'>): boolean {
  return flavour.name === 'v2';
}

export function composeStop(project: ComposeProject, services: string[], timeoutSeconds = 10): string[] {
  return [...composeBase(project), 'stop', '--timeout', String(timeoutSeconds), ...services];
}

export function composeRm(project: ComposeProject, services: string[]): string[] {
  return [...composeBase(project), 'rm', '--force', '--stop', ...services];
}

export function composeDown(project: ComposeProject, options: { volumes?: boolean } = {}): string[] {
  return [...composeBase(project), 'down', '--remove-orphans', ...(options.volumes ? ['--volumes'] : [])];
}

/** Stands for the image id in the config Compose v1 hashes (v1ConfigDicts), until it is known. */
export const V1_IMAGE_PLACEHOLDER = '@@berth-image-id@@';

/**
 * Compose v1 labels a container with sha256 of a JSON dump of its service's config_dict(), in
 * which the only part a pull changes is the local image id. Its own Python, asked before the pull
 * (beside it, off the switch's path), dumps that JSON with a placeholder for the id: the hash is
 * then one sha256 once the image is here (v1ConfigHash), and a later hand-run `docker-compose up
 * -d` finds its own hash on berth's replica and keeps it. Compose 1.29 is frozen, so are these
 * names; where they are missing (a v1 that is no Python package) berth labels with its own digest.
 */
const V1_CONFIG_DICT_SCRIPT = `
import json, sys
from compose.cli.command import get_project
from compose.config.environment import Environment
args = sys.argv[1:]
cut = args.index('--')
directory, name, placeholder, files, services = args[0], args[1], args[2], args[3:cut], args[cut + 1:]
project = get_project(directory, config_path=files, project_name=name, environment=Environment.from_env_file(directory))
for service in services:
    config = project.get_service(service).config_dict()
    config['image_id'] = placeholder
    print(service, json.dumps(config, sort_keys=True, separators=(',', ':'), default=lambda x: x.repr()))
`;

export function composeV1ConfigDicts(python: string, project: Omit<ComposeProject, 'flavour'>, services: string[]): string[] {
  return [python, '-c', V1_CONFIG_DICT_SCRIPT, project.directory, project.name, V1_IMAGE_PLACEHOLDER, ...project.files, '--', ...services];
}

/** `service json` lines as service -> json. */
export function parseV1ConfigDicts(stdout: string): Record<string, string> {
  const dicts: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const at = line.indexOf(' ');
    if (at > 0 && line.slice(at + 1).startsWith('{') && line.includes(JSON.stringify(V1_IMAGE_PLACEHOLDER)))
      dicts[line.slice(0, at)] = line.slice(at + 1);
  }
  return dicts;
}

/** What Compose v1 would label a container of the service with, running `imageId`. */
export function v1ConfigHash(dump: string, imageId: string): string {
  return createHash('sha256')
    .update(dump.replace(JSON.stringify(V1_IMAGE_PLACEHOLDER), JSON.stringify(imageId)), 'utf8')
    .digest('hex');
}
