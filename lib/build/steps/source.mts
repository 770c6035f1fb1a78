// The release every later step builds: the commit SHA, or a tag that says the tree was dirty.
import type { Step } from '../../core/pipeline.mts';
import type { BuildContext } from '../context.mts';
import { describeRelease, resolveRelease } from '../plan.mts';

export const source: Step<BuildContext> = {
  id: 'source',
  title: (ctx) => `release of ${ctx.product.name}`,
  async run(ctx) {
    ctx.release = await resolveRelease(ctx.runner, ctx.product.repoDir, {
      allowDirty: ctx.options.allowDirty,
      stateDir: ctx.product.stateDir,
    });
    if (ctx.release.dirty) ctx.ui.warn(`building uncommitted changes: tag ${ctx.release.tag} (never :latest)`);
    ctx.ui.info(`release ${describeRelease(ctx.release)}`);
  },
};
