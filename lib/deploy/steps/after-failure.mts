// The product's afterFailure hooks: run once a failed deploy has been undone (so they see the
// previous release serving again). A failure here is a warning: the deploy already failed.
// A deploy refused before preflight found the compose project has nothing to run them in.
// Not in the ordered list of a deploy's steps: the pipeline's failure handler runs it.
import type { DeployContext } from '../context.mts';
import type { Step } from '../../core/pipeline.mts';
import { describeHooks, hooksAt, runWarningHooks } from '../hooks.mts';

export const afterFailure: Step<DeployContext> = {
  id: 'afterFailure',
  title: 'run the afterFailure hooks',
  enabled: (ctx) => ctx.found !== undefined && hooksAt(ctx, 'afterFailure').length > 0,
  skip: (ctx) => (ctx.options.dryRun ? describeHooks(ctx, 'afterFailure') : false),
  async run(ctx) {
    await runWarningHooks(ctx, 'afterFailure');
  },
};
