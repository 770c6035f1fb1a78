// The one plain-text table: columns as wide as their widest cell, two spaces apart, no trailing
// blanks. The summary of a deploy run and deploy-all's plan use it.

export interface TableOptions {
  /** 'right' for numbers; default 'left'. */
  align?: ('left' | 'right')[];
  /** A column is never narrower than this, so that tables printed one after another line up. */
  minWidths?: number[];
  /** Put before every line. */
  indent?: string;
}

export function formatTable(rows: string[][], { align = [], minWidths = [], indent = '' }: TableOptions = {}): string[] {
  const columns = Math.max(0, ...rows.map((r) => r.length));
  const widths = Array.from({ length: columns }, (_, c) => Math.max(minWidths[c] ?? 0, ...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((row) => {
    const cells = row.map((cell, c) => (align[c] === 'right' ? cell.padStart(widths[c] ?? 0) : cell.padEnd(widths[c] ?? 0)));
    return `${indent}${cells.join('  ')}`.trimEnd();
  });
}
