// Which builder this machine really has. buildx means `bake`: every image in parallel from one
// definition. Without it, a docker client older than 23 runs BuildKit itself (DOCKER_BUILDKIT=1);
// a newer one without buildx has only the legacy builder (with DOCKER_BUILDKIT=1 it refuses to
// build at all). Several clients can sit on one machine (a vendor docker in /usr/local/bin ahead
// of the distribution's in /usr/bin), so every `docker` on PATH is asked before settling.
import { constants as fsConstants } from 'node:fs';
import { access, realpath } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { buildxVersion, dockerClientVersion } from '../commands/buildx.mts';
import type { Runner } from '../core/runner.mts';

export type BuilderKind = 'bake' | 'buildkit' | 'legacy';

export interface Builder {
  kind: BuilderKind;
  /** argv[0] of build commands: 'docker', or the absolute path of the client that can do it. */
  docker: string;
  /** Client version, or the buildx version for bake. */
  version: string;
  /** One line for the operator: what builds, and why that one. */
  summary: string;
}

/** Environment every build gets: BuildKit pinned, unless only the legacy builder exists. */
export function builderEnv(builder: Pick<Builder, 'kind'>): Record<string, string> {
  return builder.kind === 'legacy'
    ? { DOCKER_BUILDKIT: '0', COMPOSE_DOCKER_CLI_BUILD: '1' }
    : { DOCKER_BUILDKIT: '1', COMPOSE_DOCKER_CLI_BUILD: '1' };
}

/** Which builder's output this is: BuildKit prints `#N` steps, the legacy builder `Step N/M :`. */
export function builderFromOutput(output: string): 'buildkit' | 'legacy' | undefined {
  if (/^#\d+ /m.test(output)) return 'buildkit';
  if (/^Step \d+\/\d+ :/m.test(output)) return 'legacy';
  return undefined;
}

export function majorVersion(version: string): number {
  return Number.parseInt(/^v?(\d+)/.exec(version.trim())?.[1] ?? '', 10);
}

/** Every distinct `docker` executable on PATH, first one first (symlinked duplicates dropped). */
export async function dockerClients(path = process.env.PATH ?? ''): Promise<string[]> {
  const seen = new Set<string>();
  const found: string[] = [];
  for (const dir of path.split(delimiter).filter(Boolean)) {
    const candidate = join(dir, 'docker');
    try {
      await access(candidate, fsConstants.X_OK);
      const real = await realpath(candidate);
      if (seen.has(real)) continue;
      seen.add(real);
      found.push(candidate);
    } catch {
      // not in this directory
    }
  }
  return found;
}

export async function detectBuilder(runner: Runner, clients?: string[]): Promise<Builder> {
  const all = clients ?? (await dockerClients());
  // 'docker' itself first: what PATH resolves for every other command berth runs.
  const candidates = ['docker', ...all.slice(1)];
  const first = all[0] ?? 'docker';
  let firstVersion = '';
  for (const docker of candidates) {
    const buildx = await runner.probe(buildxVersion(docker), { timeoutMs: 20_000 });
    const clientVersion = (await runner.probe(dockerClientVersion(docker), { timeoutMs: 20_000 })).stdout.trim().split('\n')[0] ?? '';
    if (docker === 'docker') firstVersion = clientVersion;
    const why = docker === 'docker' ? '' : ` (${first} ${firstVersion} has no buildx)`;
    if (buildx.exitCode === 0) {
      const version = buildx.stdout.trim().split('\n')[0] ?? '';
      return { kind: 'bake', docker, version, summary: `docker buildx bake (${version})${why}` };
    }
    const major = majorVersion(clientVersion);
    if (major > 0 && major < 23) {
      const where = docker === 'docker' ? 'docker' : docker;
      return {
        kind: 'buildkit',
        docker,
        version: clientVersion,
        summary: `buildx is not installed: BuildKit \`docker build\` per image with ${where} ${clientVersion}${why}`,
      };
    }
  }
  return {
    kind: 'legacy',
    docker: 'docker',
    version: firstVersion,
    summary: `buildx is not installed and docker ${firstVersion || '(unknown version)'} has no BuildKit of its own: the legacy builder per image`,
  };
}
