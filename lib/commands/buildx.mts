// Pure argv builders for building images: buildx bake, and the `docker build` fallback. The
// docker client is a parameter because the one that can run BuildKit is not always the first
// `docker` on PATH (see lib/build/builder.mts).
import { composeBase, type ComposeProject } from './compose.mts';

export function buildxVersion(docker = 'docker'): string[] {
  return [docker, 'buildx', 'version'];
}

export function dockerClientVersion(docker = 'docker'): string[] {
  return [docker, 'version', '--format', '{{.Client.Version}}'];
}

export interface BakeOptions {
  push: boolean;
  /** buildx writes each target's digest here. */
  metadataFile?: string;
}

export function bakeArgv(docker: string, bakeFile: string, options: BakeOptions): string[] {
  const argv = [docker, 'buildx', 'bake', '--file', bakeFile, '--progress', 'plain'];
  if (options.metadataFile) argv.push('--metadata-file', options.metadataFile);
  // Without --push the docker-container driver keeps results in its cache only: --load brings them home.
  argv.push(options.push ? '--push' : '--load');
  return argv;
}

export interface ImageBuildArgv {
  context: string;
  /** Path to the Dockerfile; relative paths are relative to the current directory, like docker's. */
  dockerfile?: string;
  tags: string[];
  target?: string;
  args: Record<string, string>;
  labels: Record<string, string>;
  /** BuildKit secret id -> name of the environment variable docker reads it from. */
  secrets: Record<string, string>;
  cacheFrom?: string[];
}

/** `docker build` for one image. BuildKit gets plain progress (its output tells which builder ran) and secrets. */
export function dockerBuildArgv(docker: string, kind: 'buildkit' | 'legacy', image: ImageBuildArgv): string[] {
  const argv = [docker, 'build'];
  if (kind === 'buildkit') argv.push('--progress', 'plain');
  if (image.dockerfile) argv.push('--file', image.dockerfile);
  for (const tag of image.tags) argv.push('--tag', tag);
  if (image.target) argv.push('--target', image.target);
  for (const [name, value] of Object.entries(image.args)) argv.push('--build-arg', `${name}=${value}`);
  for (const [name, value] of Object.entries(image.labels)) argv.push('--label', `${name}=${value}`);
  if (kind === 'buildkit') for (const [id, env] of Object.entries(image.secrets)) argv.push('--secret', `id=${id},env=${env}`);
  for (const ref of image.cacheFrom ?? []) argv.push('--cache-from', ref);
  argv.push(image.context);
  return argv;
}

/** `compose build` of the development view with build args: the --build-on-vm emergency path. */
export function composeBuildWithArgs(project: ComposeProject, services: string[], args: Record<string, string>): string[] {
  const argv = [...composeBase(project), 'build'];
  for (const [name, value] of Object.entries(args)) argv.push('--build-arg', `${name}=${value}`);
  return [...argv, ...services];
}
