// Imports product and edge files. They name berth's define functions as 'berth', and berth itself
// resolves that name: a products directory elsewhere (/etc/berth/products, a temp dir) has no
// node_modules and no fixed relative path back to this checkout, so neither a package lookup nor
// '../lib/config/define.mts' can find it there. A file that fails to load is reported as what
// failed: an import, the syntax, or the file's own code.
import { readFileSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConfigError } from '../core/errors.mts';

/** What a product or edge file may write after `from` to get defineProduct / defineEdge. */
export const DEFINE_SPECIFIERS: readonly string[] = ['berth', 'berth/define'];

export const DEFINE_MODULE_URL = new URL('./define.mts', import.meta.url).href;

export type DefinitionKind = 'product' | 'edge';

const DEFINE_FUNCTION: Record<DefinitionKind, string> = { product: 'defineProduct', edge: 'defineEdge' };

let hooked = false;

/**
 * From now on, every import of the stable names in this process gets the running berth's
 * define.mts. Always this berth's, even when some node_modules above the file holds a package
 * called berth: the berth that validates the file is the one whose definitions it must use.
 */
export function resolveDefineImports(): void {
  if (hooked) return;
  hooked = true;
  registerHooks({
    resolve: (specifier, context, nextResolve) =>
      DEFINE_SPECIFIERS.includes(specifier) ? { url: DEFINE_MODULE_URL, shortCircuit: true } : nextResolve(specifier, context),
  });
}

/** The file's default export. */
export async function importDefinition(file: string, kind: DefinitionKind): Promise<unknown> {
  resolveDefineImports();
  try {
    return ((await import(pathToFileURL(file).href)) as { default?: unknown }).default;
  } catch (error) {
    throw loadFailure(file, kind, error);
  }
}

/** Every specifier the source imports from, in order; a regex is enough to name one in an error. */
function importedSpecifiers(source: string): string[] {
  const found: string[] = [];
  for (const match of source.matchAll(/\bfrom\s*(['"])([^'"\n]+)\1|\bimport\s*\(?\s*(['"])([^'"\n]+)\3/g)) {
    const specifier = match[2] ?? match[4];
    if (specifier) found.push(specifier);
  }
  return found;
}

function readOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}

/** `Cannot find module|package 'X' imported from Y` (Node; vitest quotes Y) -> the import as written and where it was looked for. */
function unresolvedImport(file: string, kind: DefinitionKind, error: Error): ConfigError | undefined {
  const match = /^Cannot find (?:module|package) '([^']+)' imported from '?(.+?)'?\.?$/.exec(firstLine(error));
  if (!match) return undefined;
  const [, missing = '', from = ''] = match;
  const importer = from.startsWith('file:') ? fileURLToPath(from) : from;
  const written = importedSpecifiers(readOrEmpty(importer));
  let specifier: string;
  let expected: string;
  if (isAbsolute(missing) || missing.startsWith('file:')) {
    // A path: Node names the file it resolved to, not what the import says.
    expected = missing.startsWith('file:') ? fileURLToPath(missing) : missing;
    specifier =
      written.find((s) => (s.startsWith('.') || s.startsWith('/')) && fileURLToPath(new URL(s, pathToFileURL(importer))) === expected) ??
      expected;
  } else {
    specifier = written.find((s) => s === missing || s.startsWith(`${missing}/`)) ?? missing;
    expected = `${join(dirname(importer), 'node_modules', missing)} or a node_modules above it`;
  }
  const define = DEFINE_FUNCTION[kind];
  const who = importer === file ? file : `${importer} (imported by ${file})`;
  const pointsAtDefine = /(^|\/)define(\.mts)?$/.test(specifier);
  return new ConfigError(`${who} imports '${specifier}', which berth cannot resolve (expected ${expected})`, {
    fix: pointsAtDefine
      ? `import { ${define} } from 'berth' instead; berth resolves that name wherever the file lives`
      : `drop that import; a ${kind} file is data, and imports at most { ${define} } from 'berth'`,
    cause: error,
  });
}

function loadFailure(file: string, kind: DefinitionKind, error: unknown): ConfigError {
  const define = DEFINE_FUNCTION[kind];
  if (error instanceof Error && (error as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND') {
    const unresolved = unresolvedImport(file, kind, error);
    if (unresolved) return unresolved;
  }
  const reason = firstLine(error);
  // Linking reports a missing export as a SyntaxError, but the syntax is fine: the name is wrong.
  const missingExport = /^The requested module '([^']+)' does not provide an export named '([^']+)'/.exec(reason);
  if (missingExport) {
    return new ConfigError(`${file} imports '${missingExport[2]}' from '${missingExport[1]}', which has no such export`, {
      fix: `import { ${define} } from 'berth'`,
      cause: error,
    });
  }
  if (error instanceof Error && error.name === 'SyntaxError') {
    // Node puts `file:///path:LINE` first in the stack of a syntax error in the file itself.
    const line = new RegExp(`^${escapeRegExp(pathToFileURL(file).href)}:(\\d+)\\n`).exec(error.stack ?? '')?.[1];
    return new ConfigError(`${file} cannot be loaded (${line ? `line ${line}: ` : ''}${reason})`, {
      fix: `fix the syntax of the ${kind} file`,
      cause: error,
    });
  }
  return new ConfigError(`${file} cannot be loaded (${error instanceof Error ? `${error.name}: ` : ''}${reason})`, {
    fix: `a ${kind} file holds data only: fix or remove the code that failed`,
    cause: error,
  });
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
