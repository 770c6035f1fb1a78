// What to keep and what to remove: pure, from the ledgers, the containers and the image list.
// Images are kept by image ID whatever their tags, so a rollback to any kept release needs no
// registry; only the products' own repositories are ever touched.
import { recordedReleases, shortTag } from '../../releases/history.mts';
import { currentRelease, type ReleaseRecord } from '../../releases/ledger.mts';

export interface KeepInput {
  product: string;
  records: ReleaseRecord[];
  /** How many releases to keep (product.keepReleases, default 5). */
  keep: number;
  /** Image IDs of the product's containers, running or not. */
  running: string[];
}

/** The last `n` releases (distinct tags, newest first) that ended well. */
export function keptReleases(records: ReleaseRecord[], n: number): string[] {
  return recordedReleases(records)
    .slice(0, Math.max(1, n))
    .map((r) => r.tag);
}

export interface KeepSet {
  /** image ID -> why it is kept. */
  ids: Map<string, string[]>;
  /** repo@sha256:... of kept releases, for images a ledger knows only by digest. */
  digests: Set<string>;
}

/** Every image the running releases and the last N releases of every product use, whatever their tags. */
export function imagesToKeep(inputs: KeepInput[]): KeepSet {
  const ids = new Map<string, string[]>();
  const digests = new Set<string>();
  const add = (id: string | undefined, why: string) => {
    if (!id) return;
    ids.set(id, [...(ids.get(id) ?? []), why]);
  };
  for (const input of inputs) {
    for (const id of new Set(input.running)) add(id, `${input.product}: a container uses it`);
    const current = currentRelease(input.records);
    const tags = keptReleases(input.records, input.keep);
    if (current && !tags.includes(current.tag)) tags.push(current.tag);
    for (const record of input.records) {
      if (record.result !== 'ok' || !tags.includes(record.tag)) continue;
      for (const [service, image] of Object.entries(record.services)) {
        add(image.id, `${input.product} ${shortTag(record.tag)} (${service})`);
        if (image.digest) digests.add(image.digest);
      }
    }
  }
  for (const [id, why] of ids) ids.set(id, [...new Set(why)]);
  return { ids, digests };
}

export interface LocalImage {
  repository: string;
  tag: string;
  digest: string;
  id: string;
}

export function parseImageList(text: string): LocalImage[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const row = JSON.parse(line) as { Repository: string; Tag: string; Digest: string; ID: string };
      return { repository: row.Repository, tag: row.Tag, digest: row.Digest, id: row.ID };
    });
}

export interface ImageRef {
  ref: string;
  id: string;
  repository: string;
  why?: string;
}

/** The name docker removes: repo:tag, or repo@digest for an image pulled by digest only. */
export function removalRef(image: LocalImage): string | undefined {
  if (image.tag && image.tag !== '<none>') return `${image.repository}:${image.tag}`;
  if (image.digest && image.digest !== '<none>') return `${image.repository}@${image.digest}`;
  return undefined;
}

/**
 * Which references to remove: only in the products' own repositories, never one whose image is
 * kept or used by any container. Tags come before digests: removing a repository's last tag
 * drops its digest references with it.
 */
export function planImageRemoval(
  images: LocalImage[],
  repositories: Set<string>,
  keep: KeepSet,
  inUse: Set<string>,
): { remove: ImageRef[]; keep: ImageRef[] } {
  const remove: ImageRef[] = [];
  const kept: ImageRef[] = [];
  const seen = new Set<string>();
  const sorted = [...images].sort((a, b) => Number(a.tag === '<none>') - Number(b.tag === '<none>'));
  for (const image of sorted) {
    if (!repositories.has(image.repository)) continue;
    const ref = removalRef(image);
    if (!ref || seen.has(ref)) continue;
    seen.add(ref);
    const digestRef = image.digest && image.digest !== '<none>' ? `${image.repository}@${image.digest}` : undefined;
    const why =
      keep.ids.get(image.id)?.join(', ') ??
      (digestRef && keep.digests.has(digestRef)
        ? 'a kept release names its digest'
        : inUse.has(image.id)
          ? 'a container uses it'
          : undefined);
    (why ? kept : remove).push({ ref, id: image.id, repository: image.repository, ...(why ? { why } : {}) });
  }
  return { remove, keep: kept };
}
