// The product's beforeSwitch hooks: the new containers are healthy and traffic has not moved.
// A failure is a failed health check as far as the deploy goes: HealthError, and undo takes the
// new containers away while the old ones keep serving.
import type { DeployContext } from '../context.mts';
import { HealthError } from '../../core/errors.mts';
import type { Step } from '../../core/pipeline.mts';
import { describeHooks, hookFailure, hooksAt, runHooks } from '../hooks.mts';

export const beforeSwitch: Step<DeployContext> = {
  id: 'beforeSwitch',
  title: 'run the beforeSwitch hooks',
  enabled: (ctx) => hooksAt(ctx, 'beforeSwitch').length > 0,
  skip: (ctx) => (ctx.options.dryRun ? describeHooks(ctx, 'beforeSwitch') : false),
  async run(ctx) {
    const failed = await runHooks(ctx, 'beforeSwitch');
    if (!failed) return;
    const { hook, record } = failed;
    const last = record.output?.at(-1);
    throw new HealthError(`${hookFailure(record, hook.timeoutSeconds)}${last ? `: ${last}` : ''}`, {
      fix: 'the previous release keeps serving; fix what the hook found and deploy again',
      details: record.output ?? [],
    });
  },
};
