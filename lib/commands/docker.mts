// Pure argv builders for the docker CLI. Containers are found by their Compose labels, which
// Compose v1 and v2 both set, so nothing here depends on container names.

export const PROJECT_LABEL = 'com.docker.compose.project';
export const SERVICE_LABEL = 'com.docker.compose.service';
export const ONEOFF_LABEL = 'com.docker.compose.oneoff';

export function dockerInfo(): string[] {
  return ['docker', 'info', '--format', '{{.ServerVersion}}|{{.DockerRootDir}}'];
}

export interface ContainerFilter {
  project: string;
  service?: string;
  /** Include stopped containers. */
  all?: boolean;
  /** Include one-off `compose run` containers (they use images too; they are not replicas). */
  oneOff?: boolean;
}

/** The label filters of a ContainerFilter: the same for the CLI and the Engine API. */
export function psLabels(filter: ContainerFilter): string[] {
  const labels = [`${PROJECT_LABEL}=${filter.project}`];
  if (filter.service) labels.push(`${SERVICE_LABEL}=${filter.service}`);
  // One-off `compose run` containers (migrations) carry the service label too; they are not replicas.
  if (!filter.oneOff) labels.push(`${ONEOFF_LABEL}=False`);
  return labels;
}

export function dockerPsIds(filter: ContainerFilter): string[] {
  const argv = ['docker', 'ps', '--quiet', '--no-trunc'];
  if (filter.all) argv.push('--all');
  for (const label of psLabels(filter)) argv.push('--filter', `label=${label}`);
  return argv;
}

/** The Engine API path answering what dockerPsIds asks (GET, JSON list with Id and Labels). */
export function enginePsPath(filter: ContainerFilter): string {
  return `/containers/json?all=${filter.all ? 1 : 0}&filters=${encodeURIComponent(JSON.stringify({ label: psLabels(filter) }))}`;
}

export const NUMBER_LABEL = 'com.docker.compose.container-number';

/** Every container of every Compose project on the engine: one snapshot for many products. */
export function dockerPsComposeIds(): string[] {
  return ['docker', 'ps', '--quiet', '--no-trunc', '--filter', `label=${PROJECT_LABEL}`];
}

export function dockerInspect(ids: string[]): string[] {
  return ['docker', 'inspect', '--type', 'container', ...ids];
}

/** The full JSON of one local image (id, registry digests, ...): a one-element array. */
export function dockerImageInspect(ref: string): string[] {
  return ['docker', 'image', 'inspect', ref];
}

export function dockerLogs(id: string, tail = 40): string[] {
  return ['docker', 'logs', '--tail', String(tail), id];
}

export function dockerPull(ref: string): string[] {
  return ['docker', 'pull', '--quiet', ref];
}

export function dockerPush(ref: string): string[] {
  return ['docker', 'push', '--quiet', ref];
}

export function dockerTag(source: string, target: string): string[] {
  return ['docker', 'tag', source, target];
}

export function dockerStop(ids: string[], timeoutSeconds = 10): string[] {
  return ['docker', 'stop', '--time', String(timeoutSeconds), ...ids];
}

/** A restart re-reads the container's bind mounts: a proxy whose mounted directory was deleted
 *  and made again sees the new one only after it. */
export function dockerRestart(id: string, timeoutSeconds = 10): string[] {
  return ['docker', 'restart', '--time', String(timeoutSeconds), id];
}

export function dockerRename(container: string, name: string): string[] {
  return ['docker', 'rename', container, name];
}

export function dockerRm(ids: string[], options: { force?: boolean } = {}): string[] {
  return ['docker', 'rm', ...(options.force ? ['--force'] : []), ...ids];
}

export function dockerRmi(refs: string[]): string[] {
  return ['docker', 'image', 'rm', ...refs];
}

/** The token goes on stdin (see Runner.run's input), never on the command line. */
export function dockerLogin(registry: string, username: string): string[] {
  return ['docker', 'login', '--username', username, '--password-stdin', registry];
}

export interface BuildOptions {
  context: string;
  dockerfile?: string;
  tags: string[];
  buildArgs?: Record<string, string>;
  /** BuildKit secrets as id=ENV_NAME: the value is read from the environment by docker. */
  secretEnv?: Record<string, string>;
  target?: string;
  labels?: Record<string, string>;
}

export function dockerBuild(options: BuildOptions): string[] {
  const argv = ['docker', 'build'];
  if (options.dockerfile) argv.push('--file', options.dockerfile);
  for (const tag of options.tags) argv.push('--tag', tag);
  for (const [name, value] of Object.entries(options.buildArgs ?? {})) argv.push('--build-arg', `${name}=${value}`);
  for (const [id, envName] of Object.entries(options.secretEnv ?? {})) argv.push('--secret', `id=${id},env=${envName}`);
  for (const [name, value] of Object.entries(options.labels ?? {})) argv.push('--label', `${name}=${value}`);
  if (options.target) argv.push('--target', options.target);
  argv.push(options.context);
  return argv;
}
