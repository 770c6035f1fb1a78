// Integration tests drive the real CLI as an operator would: a separate node process, exit code
// and output, nothing imported from lib.
import { fileURLToPath } from 'node:url';
import { rigRunner } from './engine.mts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface BerthResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface RunBerthOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** scripts/<script>.mts; default 'berth'. */
  script?: string;
  timeoutMs?: number;
}

/** Never throws on a non-zero exit: the exit code is what tests assert on. */
export async function runBerth(args: string[], options: RunBerthOptions = {}): Promise<BerthResult> {
  const script = fileURLToPath(new URL(`../../scripts/${options.script ?? 'berth'}.mts`, import.meta.url));
  // process.execPath: the same Node 22 that runs the tests, whatever `node` is first on PATH.
  const result = await rigRunner.probe([process.execPath, script, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: { NO_COLOR: '1', ...options.env },
    timeoutMs: options.timeoutMs,
  });
  return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
}
