// The one exception to "only lib/core/runner.mts spawns": the runner runs commands to completion, but
// a few helpers (a local registry for the demo and the tests) need a server that keeps running
// while we work. This file starts such a server and stops exactly that process, by its PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { constants as fsConstants, openSync, closeSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

export interface Daemon {
  readonly pid: number;
  /** Resolves once the process has exited. */
  readonly exited: Promise<void>;
  /** True while the process runs. */
  running(): boolean;
  /** SIGTERM, then SIGKILL if it is still there after graceMs. Safe to call twice. */
  stop(graceMs?: number): Promise<void>;
}

export interface DaemonOptions {
  /** stdout and stderr are appended here, so a failed start can show why. */
  logFile: string;
  cwd?: string;
  env?: Record<string, string | undefined>;
}

export function spawnDetached(argv: string[], options: DaemonOptions): Daemon {
  const [command, ...args] = argv;
  if (!command) throw new Error('spawnDetached: empty argv');
  const log = openSync(options.logFile, 'a');
  let child: ChildProcess;
  try {
    // Same process group as us (no `detached`): a Ctrl-C in the terminal reaches the server too.
    child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', log, log],
    });
  } finally {
    closeSync(log);
  }
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  const running = () => child.exitCode === null && child.signalCode === null && child.pid !== undefined;
  // If the caller never calls stop() (a crash, a forgotten afterAll), don't leave an orphan.
  const killOnExit = () => {
    if (running()) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${command}: see ${options.logFile}`);

  return {
    pid: child.pid,
    exited,
    running,
    async stop(graceMs = 5_000) {
      process.removeListener('exit', killOnExit);
      if (!running()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => running() && child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The first executable called `name` on PATH (or in `extraDirs`), without running anything. */
export async function findExecutable(name: string, extraDirs: string[] = []): Promise<string | undefined> {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...extraDirs];
  for (const dir of dirs) {
    const path = join(dir, name);
    try {
      await access(path, fsConstants.X_OK);
      return path;
    } catch {
      // not here; try the next directory
    }
  }
  return undefined;
}
