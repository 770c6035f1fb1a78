// The product's afterRollback hooks: what afterDeploy is to a deploy, for `berth rollback`.
// A failure is a warning, the rollback stays ok.
import type { DeployContext } from '../context.mts';
import type { Step } from '../../core/pipeline.mts';
import { describeHooks, hooksAt, runWarningHooks } from '../hooks.mts';

export const afterRollback: Step<DeployContext> = {
  id: 'afterRollback',
  title: 'run the afterRollback hooks',
  enabled: (ctx) => ctx.options.kind === 'rollback' && hooksAt(ctx, 'afterRollback').length > 0,
  skip: (ctx) => (ctx.options.dryRun ? describeHooks(ctx, 'afterRollback') : false),
  async run(ctx) {
    await runWarningHooks(ctx, 'afterRollback');
  },
};
