// The end of every deploy run, single product or all: the timing table, the deploy log and
// Prometheus textfile, then the webhook. None of it can change the run's exit code. A rollback
// prints the same table.
import type { Settings } from '../config/load.mts';
import { errorLine } from '../core/errors.mts';
import { recordOutcomes, timingTable, type DeployOutcome, type RunMeta } from './metrics.mts';
import { notifyOutcomes } from './webhook.mts';
import type { Ui } from '../core/ui.mts';

/** A product that failed before its deploy had a context (its definition, its repo): nothing planned. */
export function failedOutcome(product: string, error: unknown, totalMs: number): DeployOutcome {
  return {
    product,
    tag: '',
    result: 'failed',
    changed: [],
    plan: {},
    durationsMs: { total: Math.round(totalMs) },
    error: errorLine(error),
    failedStep: 'plan',
  };
}

/** The run's result: what each product did and the time of every step (stdout: a script keeps it). */
export function printSummary(outcomes: DeployOutcome[], ui: Ui): void {
  ui.result(['summary (seconds per step):', ...timingTable(outcomes).map((line) => `  ${line}`)]);
}

export async function finishRun(outcomes: DeployOutcome[], settings: Settings, meta: RunMeta, ui: Ui): Promise<void> {
  printSummary(outcomes, ui);
  await recordOutcomes(outcomes, settings.env, settings.stateDir, meta, ui);
  await notifyOutcomes(outcomes, settings.env, meta, ui);
}
