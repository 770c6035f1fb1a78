// What an engine command's failure means, read from the words Docker prints: the few faults that
// happen between a deploy's start and its end on a real VM (a full disk, a registry that went
// away, an engine that restarted), each with the reason in Docker's own short words. Anything
// else is not classified and keeps the command's own error.
import { CommandError } from '../core/errors.mts';

export type EngineFaultKind = 'disk-full' | 'registry-gone' | 'engine-gone';

export interface EngineFault {
  kind: EngineFaultKind;
  /** Docker's words for it, short: "no space left on device", "connection refused". */
  reason: string;
}

const DISK_FULL = /no space left on device|disk quota exceeded/i;
// The CLI lost its daemon: it was never there, went away mid-call (the CLI then prints only
// "unexpected EOF", measured with engine 20.10 stopped during a pull), or was shutting down.
const ENGINE_GONE = /Cannot connect to the Docker daemon|error during connect|daemon is shutting down|^unexpected EOF$/i;
// The daemon could not talk to the registry (after its own retries): the registry's side.
const REGISTRY_GONE =
  /connection refused|connection reset by peer|i\/o timeout|no route to host|TLS handshake timeout|unexpected EOF|: EOF$/i;

/** The words that matched, from the first line that has them: no file names, URLs or ids. */
function reasonOf(lines: string[], pattern: RegExp): string | undefined {
  for (const line of lines) {
    const match = pattern.exec(line);
    if (match) return match[0].replace(/^:\s*/, '');
  }
  return undefined;
}

/** The fault behind a failed engine command, or undefined when it is none of the known ones. */
export function engineFault(error: unknown): EngineFault | undefined {
  if (!(error instanceof CommandError)) return undefined;
  const lines = error.stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  for (const [kind, pattern] of [
    ['disk-full', DISK_FULL],
    ['engine-gone', ENGINE_GONE],
    ['registry-gone', REGISTRY_GONE],
  ] as const) {
    const reason = reasonOf(lines, pattern);
    if (reason !== undefined) return { kind, reason: kind === 'disk-full' ? reason.toLowerCase() : reason };
  }
  return undefined;
}
