// A deploy is an ordered list of steps. Dry-run is not a second code path: a step's skip()
// returns the reason, which for dry-run is the exact commands it would run.
import { BerthError } from './errors.mts';
import { throwIfInterrupted } from './interrupt.mts';
import type { Ui } from './ui.mts';

export interface Step<C> {
  id: string;
  title: string | ((ctx: C) => string);
  /** Not part of this run at all (e.g. no proxy configured): not even listed. */
  enabled?: (ctx: C) => boolean;
  /** A reason to list the step but not run it. */
  skip?: (ctx: C) => string | false | undefined | Promise<string | false | undefined>;
  run: (ctx: C) => Promise<void>;
}

export interface PipelineContext {
  ui: Ui;
  timings: Record<string, number>;
}

export interface PipelineOptions<C> {
  /** Runs once when a step fails (or the run is interrupted): undo what is safe to undo. */
  onFailure?: (ctx: C, error: unknown, failedStep: string) => Promise<void>;
}

export async function runSteps<C extends PipelineContext>(ctx: C, steps: Step<C>[], options: PipelineOptions<C> = {}): Promise<void> {
  for (const step of steps) {
    if (step.enabled && !step.enabled(ctx)) continue;
    const title = typeof step.title === 'function' ? step.title(ctx) : step.title;
    const handle = ctx.ui.step(title);
    const started = performance.now();
    try {
      throwIfInterrupted();
      const reason = step.skip ? await step.skip(ctx) : false;
      if (reason) {
        handle.skip(reason);
        continue;
      }
      await step.run(ctx);
      ctx.timings[step.id] = Math.round(performance.now() - started);
      handle.succeed();
    } catch (error) {
      ctx.timings[step.id] = Math.round(performance.now() - started);
      handle.fail(error instanceof BerthError ? error.message : String(error));
      if (error instanceof BerthError && error.details.length > 0) ctx.ui.detail(error.details);
      if (options.onFailure) {
        try {
          await options.onFailure(ctx, error, step.id);
        } catch (undoError) {
          ctx.ui.error(`could not clean up after ${step.id}: ${undoError instanceof Error ? undoError.message : String(undoError)}`);
        }
      }
      throw error;
    }
  }
}
