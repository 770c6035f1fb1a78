// Why an image cannot be tagged again from :latest, in the operator's words: which build arg
// differs, which file changed. The source key says only that something differs; its parts
// (labels on :latest, see sourceLabels) and a git diff from :latest's commit say what.
import { SOURCE_LABEL, SOURCE_PART_LABELS, type SourceParts } from './plan.mts';

/** The files that changed under the image's sources since :latest's commit, or why git cannot say. */
export type FileChanges = { names: string[] } | { unknown: string };

/** NAME=hash,... back into a record. */
export function parseArgsLabel(label: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of (label ?? '').split(',').filter(Boolean)) {
    const eq = item.indexOf('=');
    if (eq > 0) out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/** "a changed", "a and b changed", "a, b, c and 4 more files changed". */
export function changedFilesText(names: string[]): string {
  const shown = names.slice(0, 3);
  const more = names.length - shown.length;
  if (more > 0) return `${shown.join(', ')} and ${more} more file${more === 1 ? '' : 's'} changed`;
  return `${shown.length > 1 ? `${shown.slice(0, -1).join(', ')} and ${shown.at(-1)}` : shown[0]} changed`;
}

function filesReason(files: FileChanges | undefined, sources: string[]): string {
  const where = sources.map((s) => s || '.').join(', ');
  if (!files) return `files under ${where} changed since :latest`;
  if ('unknown' in files) return `files under ${where} changed since :latest (${files.unknown})`;
  if (files.names.length === 0) return `the image's sources (${where}) or its Dockerfile moved since :latest`;
  return changedFilesText(files.names);
}

function argsReasons(latest: Record<string, string>, current: Record<string, string>): string[] {
  const names = [...new Set([...Object.keys(latest), ...Object.keys(current)])].sort();
  return names.flatMap((name) => {
    if (!(name in latest)) return [`build arg ${name} is new`];
    if (!(name in current)) return [`build arg ${name} is no longer passed`];
    return latest[name] === current[name] ? [] : [`build arg ${name} differs`];
  });
}

function secretsReason(latest: string[], current: string[]): string[] {
  const added = current.filter((id) => !latest.includes(id));
  const removed = latest.filter((id) => !current.includes(id));
  const parts = [...added.map((id) => `${id} added`), ...removed.map((id) => `${id} removed`)];
  return parts.length ? [`build secrets changed (${parts.join(', ')})`] : [];
}

/**
 * Why this image's source key differs from :latest's. `files` is consulted only when the files
 * part differs (or :latest predates the part labels): pass it from a git diff of :latest's commit.
 */
export function reuseMiss(latest: Record<string, string>, current: SourceParts, sources: string[], files?: FileChanges): string {
  if (latest[SOURCE_LABEL] === undefined) return ':latest has no source key (not built by berth build): nothing to compare with';
  if (latest[SOURCE_PART_LABELS.files] === undefined) {
    // Built before berth labelled the parts: only git can still tell something.
    const changed = files && 'names' in files && files.names.length > 0 ? `${changedFilesText(files.names)}; ` : '';
    return `${changed}:latest has no per-input labels (built by an older berth), so its build args cannot be compared`;
  }
  const reasons = [
    ...(latest[SOURCE_PART_LABELS.files] !== current.files ? [filesReason(files, sources)] : []),
    ...argsReasons(parseArgsLabel(latest[SOURCE_PART_LABELS.args]), current.args),
    ...((latest[SOURCE_PART_LABELS.target] ?? '') !== current.target
      ? [`build target changed from ${latest[SOURCE_PART_LABELS.target] || '(none)'} to ${current.target || '(none)'}`]
      : []),
    ...secretsReason((latest[SOURCE_PART_LABELS.secrets] ?? '').split(',').filter(Boolean), current.secrets),
  ];
  return reasons.length ? reasons.join('; ') : "its source key differs from :latest's (built by another version of berth)";
}

/** Whether the files part needs a git diff to be explained. */
export function filesDiffer(latest: Record<string, string>, current: SourceParts): boolean {
  return latest[SOURCE_PART_LABELS.files] !== current.files;
}
