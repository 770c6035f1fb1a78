// The bake definition: one target per image, all in the default group, so `docker buildx bake`
// builds them in parallel and shares what they have in common. Secrets are named by id and
// environment variable only: the file never holds a secret's value.
import { relative } from 'node:path';
import { buildInputs, type ImageBuild, type Release, type SourceParts } from './plan.mts';

export type CacheMode = 'registry' | 'none';

export interface BakeTarget {
  context: string;
  dockerfile: string;
  tags: string[];
  args: Record<string, string>;
  labels: Record<string, string>;
  target?: string;
  secret?: string[];
  'cache-from'?: string[];
  'cache-to'?: string[];
}

export interface BakeFile {
  group: { default: { targets: string[] } };
  target: Record<string, BakeTarget>;
}

export interface BakeImage {
  image: ImageBuild;
  source: SourceParts | undefined;
}

/** The registry cache lives beside the image, under its own tag, so hygiene can tell it apart. */
export function cacheRef(image: Pick<ImageBuild, 'repository'>): string {
  return `${image.repository}:buildcache`;
}

/**
 * Where bake puts the cache when the cache is the registry. 'registry' exports every layer to
 * :buildcache; 'inline' is for buildx's docker driver on an engine without the containerd image
 * store, which cannot export a cache: the cache metadata rides in the pushed image, and the next
 * build reads it from :latest (as the `docker build` fallback does).
 */
export type CacheExport = 'registry' | 'inline';

function cacheSettings(image: ImageBuild, cacheExport: CacheExport): Pick<BakeTarget, 'cache-from' | 'cache-to'> {
  if (cacheExport === 'inline') return { 'cache-from': [`type=registry,ref=${image.repository}:latest`], 'cache-to': ['type=inline'] };
  return { 'cache-from': [`type=registry,ref=${cacheRef(image)}`], 'cache-to': [`type=registry,ref=${cacheRef(image)},mode=max`] };
}

/** buildx's refusal to export a cache with its docker driver (buildx 0.10 to 0.38 say it this way). */
export function cacheExportRefused(output: string): boolean {
  return /cache export is not supported for the docker driver/i.test(output);
}

export function bakeDefinition(images: BakeImage[], release: Release, options: { cache: CacheMode; cacheExport?: CacheExport }): BakeFile {
  const target: Record<string, BakeTarget> = {};
  for (const { image, source } of images) {
    const inputs = buildInputs(image, release, source);
    target[image.service] = {
      context: image.context,
      dockerfile: relative(image.context, image.dockerfile),
      tags: inputs.tags,
      args: inputs.args,
      labels: inputs.labels,
      ...(image.target ? { target: image.target } : {}),
      ...(Object.keys(image.secrets).length > 0 ? { secret: Object.entries(image.secrets).map(([id, env]) => `id=${id},env=${env}`) } : {}),
      ...(options.cache === 'registry' ? cacheSettings(image, options.cacheExport ?? 'registry') : {}),
    };
  }
  return { group: { default: { targets: images.map(({ image }) => image.service) } }, target };
}

/** buildx's --metadata-file: per target, the pushed digest (containerimage.digest). */
export function bakeDigests(metadata: string): Record<string, string> {
  const parsed = JSON.parse(metadata || '{}') as Record<string, { 'containerimage.digest'?: string } | undefined>;
  const out: Record<string, string> = {};
  for (const [name, entry] of Object.entries(parsed)) if (entry?.['containerimage.digest']) out[name] = entry['containerimage.digest'];
  return out;
}
