// Every benchmark cleans up however it ends: it returns, throws, is interrupted (Ctrl-C, SIGTERM,
// SIGHUP, SIGPIPE) or loses the reader of its output (EPIPE, what `| head` does). Without this,
// Node exits on a signal at once and skips the bench's `finally`, leaving its containers,
// networks, images, registry and second engine behind. Not a benchmark itself: bench.mts runs
// only the files directly in scripts/bench/.
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

export const TEARDOWN_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGPIPE'] as const;

export interface Teardown {
  /** Runs the cleanup once, whoever asks first (the bench's `finally` or a signal); later calls
   *  wait for that same run. */
  run(): Promise<void>;
}

/** This process's direct children (Linux /proc; none elsewhere): the commands it started. */
export function childPids(pid = process.pid): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Passes `signal` to this process's children and waits for them (a berth deploy undoes its run
 *  on SIGINT/SIGTERM); whatever still runs after `graceMs` is killed. */
export async function stopChildren(signal: NodeJS.Signals, graceMs = 30_000): Promise<void> {
  const children = childPids();
  for (const pid of children) {
    try {
      process.kill(pid, signal === 'SIGPIPE' ? 'SIGTERM' : signal);
    } catch {
      // Gone already.
    }
  }
  const deadline = Date.now() + graceMs;
  while (children.some(alive) && Date.now() < deadline) await sleep(100);
  for (const pid of children.filter(alive)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone in the meantime.
    }
  }
}

/** False once stderr's reader is gone: writing again would only raise EPIPE again. */
let stderrOpen = true;
const say = (line: string) => {
  if (!stderrOpen) return;
  try {
    process.stderr.write(`${line}\n`);
  } catch {
    stderrOpen = false;
  }
};

/**
 * Registers `cleanup` for every way the bench can end, before the bench creates anything: call it
 * right after choosing the prefix, and `await teardown.run()` in the bench's `finally`. On a
 * signal (or a reader gone) the children the bench started are stopped first, so none of them
 * creates something after the cleanup looked; then the cleanup runs and the process exits
 * 128 + the signal's number. Signals during the cleanup do not cut it short: `kill -9` does.
 */
export function teardownOnExit(label: string, cleanup: () => Promise<void>): Teardown {
  let running: Promise<void> | undefined;
  const run = () => {
    running ??= cleanup().catch((error: unknown) =>
      say(`${label}: cleanup failed: ${error instanceof Error ? error.message : String(error)}`),
    );
    return running;
  };
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) {
      // A closed pipe raises SIGPIPE and EPIPE at every write: not worth a line each.
      if (signal !== 'SIGPIPE') say(`${label}: ${signal}: still cleaning up (kill -9 ${process.pid} to quit without)`);
      return;
    }
    stopping = true;
    say(`${label}: ${signal}: stopping and removing what this bench created`);
    await stopChildren(signal);
    await run();
    process.exit(128 + (constants.signals[signal] ?? 1));
  };
  for (const signal of TEARDOWN_SIGNALS) process.on(signal, () => void stop(signal));
  // Names what to look for after a `kill -9`, the one ending no cleanup survives.
  say(`${label}: pid ${process.pid}; what it creates carries its prefix`);
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      // A write after the first EPIPE finds the stream destroyed: the same reader gone.
      if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') throw error;
      if (stream === process.stderr) stderrOpen = false;
      void stop('SIGPIPE');
    });
  }
  process.on('uncaughtException', (error) => {
    say(`${label}: ${error.stack ?? error.message}`);
    if (stopping) return;
    stopping = true;
    void stopChildren('SIGTERM')
      .then(run)
      .then(() => process.exit(1));
  });
  return { run };
}
