// The names and labels that make Compose v1 and v2 count a container berth started as one of the
// service's own replicas.
import { createHash } from 'node:crypto';
import type { ComposeFlavourName } from '../../commands/compose.mts';

export const COMPOSE_LABELS = {
  project: 'com.docker.compose.project',
  service: 'com.docker.compose.service',
  oneoff: 'com.docker.compose.oneoff',
  number: 'com.docker.compose.container-number',
  version: 'com.docker.compose.version',
  configHash: 'com.docker.compose.config-hash',
} as const;

/** Labels of the project, not of one container: copied from the replica Compose started. */
export const PROJECT_LABEL_PREFIX = 'com.docker.compose.project.';

export interface ComposeTopLevel {
  networks?: Record<string, { name?: string; external?: boolean | { name?: string } } | null>;
  volumes?: Record<string, { name?: string; external?: boolean | { name?: string } } | null>;
}

export function replicaName(flavour: ComposeFlavourName, project: string, service: string, number: number): string {
  return flavour === 'v1' ? `${project}_${service}_${number}` : `${project}-${service}-${number}`;
}

/** The engine's name of a network or volume the service names by its compose key. */
export function realName(kind: 'network' | 'volume', key: string, project: string, top: ComposeTopLevel): string {
  const def = (kind === 'network' ? top.networks : top.volumes)?.[key] ?? undefined;
  if (def?.name) return def.name;
  if (def?.external) return typeof def.external === 'object' && def.external.name ? def.external.name : key;
  return `${project}_${key}`;
}

/** A stable digest of the resolved service. Not Compose's own config hash (v1 mixes the local
 *  image id into it, v2 hashes differently): a manual `compose up` recreates such a container,
 *  as it would after any image change. berth itself never relies on the label. */
export function serviceDigest(config: Record<string, unknown>): string {
  const canonical = (value: unknown): unknown =>
    Array.isArray(value)
      ? value.map(canonical)
      : value && typeof value === 'object'
        ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]))
        : value;
  return createHash('sha256').update(JSON.stringify(canonical(config))).digest('hex');
}
