// The end of every deploy run, single product or all: the timing table, the deploy log and
// Prometheus textfile, then the webhook. None of it can change the run's exit code.
import type { Settings } from '../config/load.mts';
import { servicesWith, type DeployContext } from '../deploy/context.mts';
import { errorLine } from '../core/errors.mts';
import { lastTimedStep, recordOutcomes, timingTable, type DeployOutcome, type RunMeta } from './metrics.mts';
import { notifyOutcomes } from './webhook.mts';
import type { Ui } from '../core/ui.mts';

/** A product that failed: what it had planned, timed and changed up to the failure. */
export function failedOutcome(product: string, ctx: DeployContext | undefined, error: unknown, totalMs: number): DeployOutcome {
  const timings = ctx?.timings ?? {};
  const message = errorLine(error);
  return {
    product,
    tag: ctx?.options.tag ?? '',
    result: 'failed',
    changed: ctx ? servicesWith(ctx, 'replace', 'start') : [],
    plan: ctx?.plan ?? {},
    durationsMs: { ...timings, total: Math.round(totalMs) },
    error: ctx ? ctx.runner.redact(message) : message,
    failedStep: lastTimedStep(timings) ?? 'plan',
  };
}

export async function finishRun(outcomes: DeployOutcome[], settings: Settings, meta: RunMeta, ui: Ui): Promise<void> {
  ui.info('summary (seconds per step):');
  for (const line of timingTable(outcomes)) ui.info(`  ${line}`);
  await recordOutcomes(outcomes, settings.env, settings.stateDir, meta, ui);
  await notifyOutcomes(outcomes, settings.env, meta, ui);
}
