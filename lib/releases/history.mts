// Questions asked of a product's ledger: which releases ended well, which one ran before the
// current one, which one a SHA prefix names, and which of them a rollback can still reach.
import type { Product } from '../config/load.mts';
import { UsageError } from '../core/errors.mts';
import { checkRelease, type ImageCheck, type ImageLookup } from './availability.mts';
import type { ReleaseKind, ReleaseRecord } from './ledger.mts';

/** Records that restore an older release rather than ship a new one. */
const RESTORING: ReleaseKind[] = ['rollback', 'auto-rollback'];

/** A release tag as people read it: a full commit SHA cut to 12 characters, any other tag whole. */
export function shortTag(tag: string): string {
  return /^[0-9a-f]{40}$/.test(tag) ? tag.slice(0, 12) : tag;
}

/** Releases that ended well, newest first, one per tag (its newest record: the images it ran last). */
export function recordedReleases(records: ReleaseRecord[]): ReleaseRecord[] {
  const seen = new Set<string>();
  const releases: ReleaseRecord[] = [];
  for (const record of [...records].reverse()) {
    if (record.result !== 'ok' || seen.has(record.tag)) continue;
    seen.add(record.tag);
    releases.push(record);
  }
  return releases;
}

export function describeReleases(releases: ReleaseRecord[], max = 10): string {
  const listed = releases.slice(0, max).map((r) => `${shortTag(r.tag)} (${r.time.slice(0, 16).replace('T', ' ')}, ${r.who})`);
  const more = releases.length > max ? ` and ${releases.length - max} older` : '';
  return `${listed.join(', ')}${more}`;
}

/** The release `sha` names: the whole tag, or a prefix of at least 4 characters naming one release. */
export function findRelease(records: ReleaseRecord[], sha: string, productName: string): ReleaseRecord {
  const releases = recordedReleases(records);
  const exact = releases.find((r) => r.tag === sha);
  if (exact) return exact;
  const matches = sha.length >= 4 ? releases.filter((r) => r.tag.startsWith(sha)) : [];
  if (matches.length === 1) return matches[0] as ReleaseRecord;
  if (matches.length > 1) {
    throw new UsageError(`'${sha}' matches ${matches.length} releases of ${productName} (${describeReleases(matches)})`, {
      fix: 'give more characters of the SHA',
    });
  }
  throw new UsageError(`${sha} is not a recorded release of ${productName}`, {
    fix:
      releases.length > 0 ? `roll back to one of ${describeReleases(releases)}` : `${productName} has no successful release recorded yet`,
  });
}

/**
 * The release that ran before the current one. After a rollback, "before" means before the
 * restored release first ran, so repeated --previous walks back through history instead of
 * toggling between two releases.
 */
export function previousRelease(records: ReleaseRecord[]): ReleaseRecord | undefined {
  const ok = records.filter((r) => r.result === 'ok');
  const current = ok.at(-1);
  if (!current) return undefined;
  let from = ok.length - 1;
  if (RESTORING.includes(current.kind)) {
    const origin = ok.findLastIndex((r, i) => i < from && r.tag === current.tag && !RESTORING.includes(r.kind));
    if (origin >= 0) from = origin;
  }
  for (let i = from - 1; i >= 0; i--) {
    const candidate = ok[i] as ReleaseRecord;
    if (candidate.tag !== current.tag) return recordedReleases(records).find((r) => r.tag === candidate.tag);
  }
  return undefined;
}

/** For `rollback <sha>` without a product: the products whose ledgers hold the release. */
export function productsWithRelease(ledgers: Record<string, ReleaseRecord[]>, sha: string): string[] {
  return Object.entries(ledgers)
    .filter(([, records]) => recordedReleases(records).some((r) => r.tag === sha || (sha.length >= 4 && r.tag.startsWith(sha))))
    .map(([name]) => name);
}

/** Services a rollback re-points: the product's routine ones (http, worker) the release recorded. */
export function rollbackServices(product: Pick<Product, 'services'>, record: ReleaseRecord): { services: string[]; notRecorded: string[] } {
  const routine = Object.values(product.services)
    .filter((s) => s.kind === 'http' || s.kind === 'worker')
    .map((s) => s.name);
  return { services: routine.filter((s) => record.services[s]), notRecorded: routine.filter((s) => !record.services[s]) };
}

export interface ReleaseReach {
  release: ReleaseRecord;
  /** The services a rollback to it would re-point. */
  services: string[];
  /** Where each of their images is now. */
  checks: ImageCheck[];
}

/** Every recorded release except `skip` (the current one, the one asked for), newest first, with
 *  where the images a rollback to it needs are now. */
export async function releaseReach(
  lookup: ImageLookup,
  product: Pick<Product, 'services'>,
  records: ReleaseRecord[],
  skip: (string | undefined)[],
): Promise<ReleaseReach[]> {
  const reach: ReleaseReach[] = [];
  for (const release of recordedReleases(records)) {
    if (skip.includes(release.tag)) continue;
    const { services } = rollbackServices(product, release);
    reach.push({ release, services, checks: await checkRelease(lookup, product, release, services) });
  }
  return reach;
}
