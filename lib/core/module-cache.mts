// Node strips the TypeScript from every berth module each time a command starts: measured with
// --cpu-prof on 2 cores, ~0.35 s of the ~0.6 s before a deploy does anything (zx is most of the
// rest), and that CPU burst is also felt by the traffic the deploy switches. berth's modules change
// only when its checkout does, so each module's stripped text is kept in a cache directory, one file
// per module (named by its path), stamped with the hash of the node version and the source it came
// from: a changed module, or another node, strips again and replaces its file; nothing goes stale
// and the directory never holds more than one file per module. Stripping keeps every line and column
// where it was, so stack traces point at the source. An entry calls this before it imports the rest.
import { createHash } from 'node:crypto';
import * as nodeModule from 'node:module';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

type LoadHook = (
  url: string,
  context: { format?: string | null },
  nextLoad: (url: string, context: { format?: string | null }) => unknown,
) => unknown;

interface ModuleHooks {
  registerHooks?: (hooks: { load: LoadHook }) => unknown;
  stripTypeScriptTypes?: (code: string, options: { mode: 'strip' }) => string;
}

/** The directory: BERTH_MODULE_CACHE, else berth's folder of the user's cache directory. */
export function moduleCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BERTH_MODULE_CACHE) return env.BERTH_MODULE_CACHE;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'berth', 'modules');
}

/** The last line of a cached file: which source and node it was stripped from. */
export function stampOf(source: string, nodeVersion: string): string {
  return `\n//# berth-stripped ${createHash('sha256').update(nodeVersion).update('\0').update(source).digest('hex')}\n`;
}

/** The cached text for this source, or undefined when the file is missing or from other source. */
export function cachedText(file: string, stamp: string): string | undefined {
  try {
    const text = readFileSync(file, 'utf8');
    return text.endsWith(stamp) ? text : undefined;
  } catch {
    return undefined;
  }
}

/** Node's public stripping API says it is experimental, on stderr, once a process; node's own
 *  loading of the same modules says nothing. berth's stderr is its user's: not that. */
function quietly<T>(strip: () => T): T {
  const emit = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    if (String(typeof warning === 'string' ? warning : warning.message).includes('stripTypeScriptTypes')) return;
    return (emit as (...args: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    return strip();
  } finally {
    process.emitWarning = emit;
  }
}

/** Registers the cache for the modules loaded from now on; a no-op on a node without the hooks
 *  (before 22.15) or with BERTH_MODULE_CACHE=off. Any trouble with the directory (read-only, full)
 *  leaves that module to node's own stripping. */
export function cacheStrippedModules(env: NodeJS.ProcessEnv = process.env): void {
  const hooks = nodeModule as unknown as ModuleHooks;
  const strip = hooks.stripTypeScriptTypes;
  if (!hooks.registerHooks || !strip || env.BERTH_MODULE_CACHE === 'off') return;
  const dir = moduleCacheDir(env);
  let ready = false;
  hooks.registerHooks({
    load(url, context, nextLoad) {
      if (!url.startsWith('file:') || !/\.m?ts$/.test(url)) return nextLoad(url, context);
      const path = fileURLToPath(url);
      const source = readFileSync(path, 'utf8');
      const stamp = stampOf(source, process.version);
      const file = join(dir, `${createHash('sha256').update(path).digest('hex').slice(0, 32)}.mjs`);
      let text = cachedText(file, stamp);
      if (text === undefined) {
        try {
          text = `${quietly(() => strip(source, { mode: 'strip' }))}${stamp}`;
        } catch {
          return nextLoad(url, context);
        }
        try {
          if (!ready) mkdirSync(dir, { recursive: true });
          ready = true;
          // Whole or not at all: another berth command may read it meanwhile.
          const partial = `${file}.${process.pid}`;
          writeFileSync(partial, text);
          renameSync(partial, file);
        } catch {
          // Not cached this time: the stripped text serves all the same.
        }
      }
      return { format: 'module', source: text, shortCircuit: true };
    },
  });
}
