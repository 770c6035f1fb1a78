// The product's afterDeploy hooks, once the deploy is done and before it is recorded (so the
// ledger names them): a failure is a warning, the release stays ok.
import type { DeployContext } from '../context.mts';
import type { Step } from '../../core/pipeline.mts';
import { describeHooks, hooksAt, runWarningHooks } from '../hooks.mts';

export const afterDeploy: Step<DeployContext> = {
  id: 'afterDeploy',
  title: 'run the afterDeploy hooks',
  enabled: (ctx) => ctx.options.kind !== 'rollback' && hooksAt(ctx, 'afterDeploy').length > 0,
  skip: (ctx) => (ctx.options.dryRun ? describeHooks(ctx, 'afterDeploy') : false),
  async run(ctx) {
    await runWarningHooks(ctx, 'afterDeploy');
  },
};
