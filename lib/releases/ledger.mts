// The release ledger: one JSON line per deploy or rollback, per product. Rollback and change
// detection read it, so it is rewritten whole through a temp file + rename: a crash leaves
// either the old ledger or the new one, never half a line.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic.mts';
import { readJsonLines } from '../core/json-lines.mts';

/** 'repair': a release a deploy switched to before it was killed, checked and recorded by repair. */
export type ReleaseKind = 'deploy' | 'rollback' | 'build-on-vm' | 'auto-rollback' | 'repair';
export type ReleaseResult = 'ok' | 'failed' | 'rolled-back';

export interface ServiceImage {
  image: string;
  /** Local image id (sha256:...): what a rollback re-points the tag to. */
  id?: string;
  /** Registry digest (repo@sha256:...), when the image came from a registry. */
  digest?: string;
  /** The config its container was created from, as the container's labels say (configIdentity in
   *  deploy/replica/labels.mts); absent when the deploy did not know it to be the release's. */
  config?: string;
  /** Compressed size of the image's layers, as its registry manifest lists them (bytes). */
  sizeBytes?: number;
}

/** A product hook this release ran (lib/deploy/hooks.mts): its point, name and how it ended. */
export interface HookRecord {
  point: string;
  name: string;
  result: 'ok' | 'failed' | 'timed-out';
  exitCode: number;
  ms: number;
  /** The last lines it printed, redacted; only when it failed. */
  output?: string[];
}

export interface ReleaseRecord {
  time: string;
  who: string;
  host: string;
  product: string;
  tag: string;
  kind: ReleaseKind;
  result: ReleaseResult;
  /** Every service's image as it stands after this release. */
  services: Record<string, ServiceImage>;
  /** The services this release replaced. */
  changed: string[];
  durationsMs?: Record<string, number>;
  error?: string;
  /** The commit the compose files came from (the checkout at deploy time). */
  config?: string;
  /** Tracked files deployed with local edits (--allow-dirty). */
  dirty?: string[];
  /** When the release's commit was made (committer time), for lead time; a tag that is no commit has none. */
  committedAt?: string;
  /** The product's hooks this release ran, in order. */
  hooks?: HookRecord[];
}

export function ledgerPath(productStateDir: string): string {
  return join(productStateDir, 'releases.jsonl');
}

export function readLedger(productStateDir: string): ReleaseRecord[] {
  return readLedgerLines(productStateDir).records;
}

/** A ledger line that could not be read: where it is and why, for a reader to warn about. */
export interface SkippedLine {
  file: string;
  line: number;
  reason: string;
}

/** The ledger and the lines it had to skip (truncated, hand-edited, not a release); `unusable`
 *  says why a parsed line cannot serve the caller, or undefined to keep it. */
export function readLedgerLines(
  productStateDir: string,
  unusable: (value: object) => string | undefined = () => undefined,
): { records: ReleaseRecord[]; skipped: SkippedLine[] } {
  const file = ledgerPath(productStateDir);
  const { records, skipped } = readJsonLines<ReleaseRecord>(file, (value) =>
    value && typeof value === 'object' && !Array.isArray(value) ? unusable(value) : 'not a release record',
  );
  return { records, skipped: skipped.map((s) => ({ file, ...s })) };
}

export function appendRelease(productStateDir: string, record: ReleaseRecord): void {
  mkdirSync(productStateDir, { recursive: true });
  const file = ledgerPath(productStateDir);
  const before = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const text = `${before}${before && !before.endsWith('\n') ? '\n' : ''}${JSON.stringify(record)}\n`;
  writeFileAtomic(file, text);
}

/** The release running now: the newest one that ended well. */
export function currentRelease(records: ReleaseRecord[]): ReleaseRecord | undefined {
  return records.findLast((r) => r.result === 'ok');
}
