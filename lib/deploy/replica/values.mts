// Readers for Compose values as `config` prints them: lists or single values, maps or `k=v`
// lists, shell-style command strings, durations.

export const asList = (value: unknown): unknown[] => (value === undefined || value === null ? [] : Array.isArray(value) ? value : [value]);
export const str = (value: unknown): string => String(value);

/** Key/value pairs from a Compose map or a list of `k=v` strings. */
export function pairs(value: unknown): [string, string | null][] {
  if (Array.isArray(value)) {
    return value.map((item) => {
      const text = str(item);
      const at = text.indexOf('=');
      return at < 0 ? [text, null] : [text.slice(0, at), text.slice(at + 1)];
    });
  }
  if (value && typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, v === null || v === undefined ? null : str(v)]);
  }
  return [];
}

/** POSIX-shell word splitting as Compose does for a string command (Python's shlex.split). */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\')) word += text[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < text.length) {
      word += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unbalanced ${quote} in '${text}'`);
  if (inWord) words.push(word);
  return words;
}

/** Compose durations ("1m30s", "500ms", 10) in whole seconds, rounded up. */
export function durationSeconds(value: unknown): number | undefined {
  if (typeof value === 'number') return Math.ceil(value);
  const text = str(value).trim();
  const units: Record<string, number> = { us: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
  let total = 0;
  let rest = text;
  while (rest.length) {
    const match = /^(\d+(?:\.\d+)?)(us|ms|s|m|h)/.exec(rest);
    if (!match) return undefined;
    total += Number(match[1]) * (units[match[2] as string] as number);
    rest = rest.slice(match[0].length);
  }
  return text.length ? Math.ceil(total) : undefined;
}
