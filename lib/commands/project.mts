// Pure argv builders for what a Compose project owns on the engine, found by the project label
// both Compose flavours put on its containers, networks and volumes (networks and volumes a
// compose file declares `external` carry no such label: they are someone else's). Retire uses
// them instead of `compose down`, which needs the product's compose files and their variables,
// and misses replicas berth started itself.
import { PROJECT_LABEL } from './docker.mts';

/** Names of the project's networks, one a line. */
export function dockerProjectNetworks(project: string): string[] {
  return ['docker', 'network', 'ls', '--filter', `label=${PROJECT_LABEL}=${project}`, '--format', '{{.Name}}'];
}

/** Names of the project's named volumes, one a line. */
export function dockerProjectVolumes(project: string): string[] {
  return ['docker', 'volume', 'ls', '--filter', `label=${PROJECT_LABEL}=${project}`, '--format', '{{.Name}}'];
}

/** Stops with each container's own grace period (Compose's stop_grace_period, else Docker's 10 s):
 *  a database gets the time its compose file gives it to flush. */
export function dockerStopGracefully(ids: string[]): string[] {
  return ['docker', 'stop', ...ids];
}

/** Removes stopped containers; with `volumes`, their anonymous volumes too. */
export function dockerRemoveContainers(ids: string[], options: { volumes?: boolean } = {}): string[] {
  return ['docker', 'rm', ...(options.volumes ? ['--volumes'] : []), ...ids];
}

export function dockerNetworkRemove(names: string[]): string[] {
  return ['docker', 'network', 'rm', ...names];
}

export function dockerVolumeRemove(names: string[]): string[] {
  return ['docker', 'volume', 'rm', ...names];
}
