// Running one product hook's command and making its ledger entry: shared by the deploy's hook
// points (lib/deploy/hooks.mts) and the builder's beforeBuild (lib/build/steps/before-build.mts),
// which sit side by side above this layer. Where a hook runs and what its failure means is the
// caller's business; here: its secrets, its timeout, its result and its last lines, redacted.
import type { HookDef } from '../config/product-schema.mts';
import type { CommandResult, Runner } from '../core/runner.mts';
import type { HookRecord } from './ledger.mts';

export const DEFAULT_HOOK_TIMEOUT_SECONDS = 300;
/** Lines of a failed hook's output kept in its error and ledger entry. */
export const TAIL_LINES = 5;

export function hookTimeoutMs(hook: Pick<HookDef, 'timeoutSeconds'>): number {
  return (hook.timeoutSeconds ?? DEFAULT_HOOK_TIMEOUT_SECONDS) * 1000;
}

/** The secrets a hook names, from berth's environment (a missing one is empty). Each value is
 *  registered with the runner before anything can print it. */
export function hookSecrets(
  runner: Pick<Runner, 'addSecret'>,
  hook: Pick<HookDef, 'secrets'>,
  env: NodeJS.ProcessEnv,
): Record<string, string> {
  const values: Record<string, string> = {};
  for (const name of hook.secrets ?? []) {
    const value = env[name] ?? '';
    runner.addSecret(value);
    values[name] = value;
  }
  return values;
}

function tail(result: CommandResult): string[] {
  return `${result.stdout}\n${result.stderr}`
    .split('\n')
    .map((l) => l.trimEnd())
    .filter(Boolean)
    .slice(-TAIL_LINES);
}

/** Runs a hook's argv to its end or its timeout and says how it went; never throws for the hook's
 *  own failure. `cleanUp` runs after a failure (a one-off container left behind by a timeout). */
export async function runHookCommand(
  runner: Pick<Runner, 'probe' | 'redact'>,
  point: string,
  hook: HookDef,
  argv: string[],
  options: { env: Record<string, string>; cwd?: string; cleanUp?: () => Promise<unknown> },
): Promise<HookRecord> {
  const timeoutMs = hookTimeoutMs(hook);
  const result = await runner.probe(argv, { env: options.env, timeoutMs, ...(options.cwd ? { cwd: options.cwd } : {}) });
  const timedOut = result.exitCode !== 0 && result.ms >= timeoutMs - 50;
  if (result.exitCode !== 0) await options.cleanUp?.();
  return {
    point,
    name: hook.name,
    result: result.exitCode === 0 ? 'ok' : timedOut ? 'timed-out' : 'failed',
    exitCode: result.exitCode,
    ms: Math.round(result.ms),
    ...(result.exitCode !== 0 ? { output: tail(result).map((line) => runner.redact(line)) } : {}),
  };
}

/** One line for a failed hook: its name, how it ended, and its last output line. */
export function hookFailure(record: HookRecord, timeoutSeconds?: number): string {
  const how =
    record.result === 'timed-out' ? `was stopped after ${timeoutSeconds ?? DEFAULT_HOOK_TIMEOUT_SECONDS}s` : `exited ${record.exitCode}`;
  const last = record.output?.at(-1);
  return `${record.point} '${record.name}' ${how}${last ? `: ${last}` : ''}`;
}
