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
  /** v2 only: the image id, compared by `up` beside the config hash. */
  image: 'com.docker.compose.image',
  /** v2 only: `svc:condition:restart`, comma-joined (v2 writes them in Go's random map order). */
  dependsOn: 'com.docker.compose.depends_on',
} as const;

/** berth's own label on a replica it starts: configDigest of the config it was started from. */
export const BERTH_CONFIG_LABEL = 'berth.config-digest';

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

/** The value of v2's depends_on label for a service's `depends_on`, map or list form. */
export function dependsOnLabel(value: unknown): string {
  const deps: [string, { condition?: unknown; restart?: unknown }][] = Array.isArray(value)
    ? value.map((name) => [String(name), {}])
    : Object.entries((value ?? {}) as Record<string, { condition?: unknown; restart?: unknown } | null>).map(([name, d]) => [
        name,
        d ?? {},
      ]);
  return deps
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, d]) => `${name}:${String(d.condition ?? 'service_started')}:${d.restart === true ? 'true' : 'false'}`)
    .join(',');
}

/** `config` output escapes every literal `$` as `$$` (v1 and v2): the value the container gets has one. */
export function unescapeDollars<T>(value: T): T {
  if (typeof value === 'string') return value.replaceAll('$$', '$') as T;
  if (Array.isArray(value)) return value.map(unescapeDollars) as T;
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unescapeDollars(v)])) as T;
  return value;
}

/** A stable digest of the resolved service, for when the caller has no `configHash`. Not
 *  Compose's own config hash (v1 mixes the local image id into it, v2 hashes differently): a
 *  manual `compose up` recreates such a container. berth itself never relies on the label. */
export function serviceDigest(config: Record<string, unknown>): string {
  const canonical = (value: unknown): unknown =>
    Array.isArray(value)
      ? value.map(canonical)
      : value && typeof value === 'object'
        ? Object.fromEntries(
            Object.keys(value)
              .sort()
              .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
          )
        : value;
  return createHash('sha256')
    .update(JSON.stringify(canonical(config)))
    .digest('hex');
}

/** The resolved service as a container runs it, image aside (`compare` checks the image by id):
 *  equal for the same config whatever the release's tag. */
export function configDigest(config: Record<string, unknown>): string {
  const { image: _image, ...rest } = config;
  return serviceDigest(rest);
}

/** What a container says of the config it was created from: berth's digest on a replica berth
 *  started, Compose's hash on one Compose created. Recorded per release, compared by status. */
export function configIdentity(labels: Record<string, string>): string | undefined {
  const own = labels[BERTH_CONFIG_LABEL];
  if (own) return `berth:${own}`;
  const compose = labels[COMPOSE_LABELS.configHash];
  return compose ? `compose:${compose}` : undefined;
}
