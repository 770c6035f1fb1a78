// Removes what one test file created, found by its prefix. Never prunes the engine: other work
// (and other test files' cached fixture images) shares it.
import { PROJECT_LABEL } from '../../lib/commands/docker.mts';
import type { Runner } from '../../lib/core/runner.mts';
import { rigRunner } from './engine.mts';

export interface Prefixed {
  services: string[];
  containers: string[];
  networks: string[];
  volumes: string[];
  /** repo:tag, or the image ID for untagged ones. */
  images: string[];
}

const lines = (text: string) =>
  text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);

function checkPrefix(prefix: string): void {
  // A short or empty prefix would match other people's things: refuse rather than guess.
  if (!/^[a-z0-9][a-z0-9_-]{5,}$/.test(prefix)) throw new Error(`refusing to clean up with prefix '${prefix}'`);
}

export async function listPrefixed(prefix: string, runner: Runner = rigRunner): Promise<Prefixed> {
  checkPrefix(prefix);
  const ours = (...names: (string | undefined)[]) => names.some((name) => name?.startsWith(prefix));
  // `docker service ls` fails outside a swarm: then there are no services.
  const services = await runner.probe(['docker', 'service', 'ls', '--format', '{{.Name}}']);
  const containers = await runner.read(['docker', 'ps', '--all', '--format', `{{.ID}}\t{{.Names}}\t{{.Label "${PROJECT_LABEL}"}}`]);
  const networks = await runner.read(['docker', 'network', 'ls', '--format', `{{.Name}}\t{{.Label "${PROJECT_LABEL}"}}`]);
  const volumes = await runner.read(['docker', 'volume', 'ls', '--format', `{{.Name}}\t{{.Label "${PROJECT_LABEL}"}}`]);
  const images = await runner.read(['docker', 'images', '--format', '{{.Repository}}\t{{.Tag}}\t{{.ID}}']);
  return {
    services: services.exitCode === 0 ? lines(services.stdout).filter((name) => ours(name)) : [],
    containers: lines(containers)
      .map((line) => line.split('\t'))
      .filter(([, name, project]) => ours(name, project))
      .map(([id]) => id as string),
    networks: lines(networks)
      .map((line) => line.split('\t'))
      .filter(([name, project]) => ours(name, project))
      .map(([name]) => name as string),
    volumes: lines(volumes)
      .map((line) => line.split('\t'))
      .filter(([name, project]) => ours(name, project))
      .map(([name]) => name as string),
    images: lines(images)
      .map((line) => line.split('\t'))
      .filter(([repository]) => repository?.includes(prefix))
      .map(([repository, tag, id]) => (tag === '<none>' ? (id as string) : `${repository}:${tag}`)),
  };
}

/** Removes everything listPrefixed finds; returns what was still there afterwards (should be empty). */
export async function cleanupPrefix(prefix: string, runner: Runner = rigRunner): Promise<Prefixed> {
  const found = await listPrefixed(prefix, runner);
  // Order matters: services and containers hold networks and volumes; containers hold images.
  if (found.services.length) await runner.probe(['docker', 'service', 'rm', ...found.services]);
  if (found.containers.length) await runner.probe(['docker', 'rm', '--force', '--volumes', ...found.containers]);
  if (found.networks.length) await runner.probe(['docker', 'network', 'rm', ...found.networks]);
  if (found.volumes.length) await runner.probe(['docker', 'volume', 'rm', '--force', ...found.volumes]);
  if (found.images.length) await runner.probe(['docker', 'image', 'rm', '--force', ...found.images]);
  return listPrefixed(prefix, runner);
}
