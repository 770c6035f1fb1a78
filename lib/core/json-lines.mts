// berth's append-only files (the ledger, the deploy log) are JSON lines. A line that cannot be
// read (a truncated write, an edit by hand) is skipped and reported, never fatal: one bad line
// must not stop every later deploy, rollback or report.
import { existsSync, readFileSync } from 'node:fs';

export interface JsonLines<T> {
  records: T[];
  /** 1-based line numbers of the lines skipped, and why. */
  skipped: { line: number; reason: string }[];
}

/** The file's records; `unusable` says why a parsed line is not a record of this file, or undefined to keep it. */
export function readJsonLines<T>(file: string, unusable: (value: unknown) => string | undefined): JsonLines<T> {
  const records: T[] = [];
  const skipped: JsonLines<T>['skipped'] = [];
  if (!existsSync(file)) return { records, skipped };
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((text, index) => {
      if (!text.trim()) return;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        skipped.push({ line: index + 1, reason: 'not JSON (truncated or edited by hand)' });
        return;
      }
      const why = unusable(value);
      if (why) skipped.push({ line: index + 1, reason: why });
      else records.push(value as T);
    });
  return { records, skipped };
}
