// Ctrl-C or SIGTERM during a deploy: the first one asks the pipeline to stop at the next safe
// point and undo (see lib/deploy/undo.mts); a second one exits at once.
import { BerthError } from './errors.mts';

export class InterruptedError extends BerthError {
  override readonly exitCode = 130;
}

let signal: NodeJS.Signals | undefined;

export function interrupted(): NodeJS.Signals | undefined {
  return signal;
}

export function throwIfInterrupted(): void {
  if (signal) throw new InterruptedError(`interrupted by ${signal}`, { fix: 'what this run changed was undone; rerun to deploy' });
}

/** For tests and embedding: pretend a signal arrived (or clear it). */
export function setInterrupted(value: NodeJS.Signals | undefined): void {
  signal = value;
}

export function installInterruptHandlers(onFirst: (signal: NodeJS.Signals) => void): void {
  for (const name of ['SIGINT', 'SIGTERM'] as const) {
    process.on(name, () => {
      if (signal) process.exit(130);
      signal = name;
      onFirst(name);
    });
  }
}
