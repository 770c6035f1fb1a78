// The product's checks (its `checks` hooks): after the checkout and preflight, before anything
// changes. A check that fails refuses the deploy the way preflight refuses a full disk or an
// unreachable registry (EngineError, exit 3): the world the release needs is not ready, the
// product file is not wrong (ConfigError) and no new release was unhealthy (HealthError).
import type { DeployContext } from '../context.mts';
import { EngineError } from '../../core/errors.mts';
import type { Step } from '../../core/pipeline.mts';
import { describeHooks, hookFailure, hooksAt, runHooks } from '../hooks.mts';

export const CHECKS_STEP = 'checks';

export const checks: Step<DeployContext> = {
  id: CHECKS_STEP,
  title: 'run the product checks',
  enabled: (ctx) => hooksAt(ctx, 'checks').length > 0,
  skip: (ctx) => (ctx.options.dryRun ? describeHooks(ctx, 'checks') : false),
  async run(ctx) {
    const failed = await runHooks(ctx, 'checks');
    if (!failed) return;
    const { hook, record } = failed;
    const last = record.output?.at(-1);
    throw new EngineError(`${hookFailure(record, hook.timeoutSeconds)}${last ? `: ${last}` : ''}; nothing was changed`, {
      fix: `make the check pass, or see what it checks: ${ctx.runner.format(hook.command)}`,
      details: record.output ?? [],
    });
  },
};
