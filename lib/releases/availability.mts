// Where a release's images are now: on this engine (by image ID), in the registry (by digest), or
// gone. Local images need no registry call at all, so a rollback works while the registry is down.
import { dockerImagesJson } from '../commands/images.mts';
import type { Product } from '../config/load.mts';
import type { Runner } from '../core/runner.mts';
import { createDigestLookup, type RegistryAnswer } from '../registry/digest-lookup.mts';
import type { ReleaseRecord, ServiceImage } from './ledger.mts';

export type ImageSource = 'local' | 'registry' | 'missing';

export interface ImageCheck {
  service: string;
  /** registry/repository the release's tag is re-pointed in. */
  repository: string;
  image: ServiceImage;
  source: ImageSource;
  detail: string;
}

export interface ImageLookup {
  hasLocal(id: string): boolean;
  inRegistry(digestRef: string): Promise<RegistryAnswer>;
}

/** Local image IDs are listed once; the registry is asked only for what is not local. */
export async function createImageLookup(runner: Runner, timeoutMs = 3_000): Promise<ImageLookup> {
  const listing = await runner.read(dockerImagesJson());
  const local = new Set(
    listing
      .split('\n')
      .filter(Boolean)
      .map((line) => (JSON.parse(line) as { ID: string }).ID),
  );
  return { hasLocal: (id) => local.has(id), inRegistry: createDigestLookup(runner, timeoutMs) };
}

export async function checkImage(
  lookup: ImageLookup,
  service: string,
  repository: string,
  image: ServiceImage | undefined,
): Promise<ImageCheck> {
  const base = { service, repository, image: image ?? { image: '' } };
  if (!image) return { ...base, source: 'missing', detail: 'the release recorded no image' };
  if (image.id && lookup.hasLocal(image.id)) return { ...base, source: 'local', detail: `local image ${image.id.slice(7, 19)}` };
  const gone = `image ${image.id?.slice(7, 19) ?? '(no id recorded)'} is gone from this engine`;
  if (!image.digest) return { ...base, source: 'missing', detail: `${gone} and was never pushed (no digest recorded)` };
  const answer = await lookup.inRegistry(image.digest);
  if (answer.exists) return { ...base, source: 'registry', detail: `pull ${image.digest}` };
  return { ...base, source: 'missing', detail: `${gone}, and ${answer.detail}` };
}

export function checkRelease(
  lookup: ImageLookup,
  product: Pick<Product, 'services'>,
  record: ReleaseRecord,
  services: string[],
): Promise<ImageCheck[]> {
  return Promise.all(services.map((s) => checkImage(lookup, s, product.services[s]?.repository ?? '', record.services[s])));
}

/** The worst source of a release's images: what a rollback to it would need. */
export function releaseSource(checks: ImageCheck[]): ImageSource {
  if (checks.some((c) => c.source === 'missing')) return 'missing';
  return checks.some((c) => c.source === 'registry') ? 'registry' : 'local';
}
