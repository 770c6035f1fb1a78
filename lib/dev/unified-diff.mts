// A unified diff of a generated file: what is on disk against what the generator writes. The
// `diff` package finds and formats the hunks; this only makes invisible differences visible.
import { createTwoFilesPatch, FILE_HEADERS_ONLY } from 'diff';
import { REGENERATE } from './shims.mts';

/** One text per line, each ending in a newline: a trailing CR is spelled out as `\r`, and a missing
 *  final newline becomes a line of its own, so either shows up as a changed line. */
function visibleLines(text: string): string {
  const all = text.split('\n').map((line) => line.replace(/\r$/, '\\r'));
  if (all.at(-1) === '') all.pop();
  else all.push('\\ No newline at end of file');
  return all.map((line) => `${line}\n`).join('');
}

export function unifiedDiff(path: string, actual: string, expected: string, context = 3): string[] {
  const patch = createTwoFilesPatch(
    `${path} (on disk)`,
    `${path} (${REGENERATE})`,
    visibleLines(actual),
    visibleLines(expected),
    undefined,
    undefined,
    {
      context,
      headerOptions: FILE_HEADERS_ONLY,
    },
  );
  return patch.trimEnd().split('\n');
}
