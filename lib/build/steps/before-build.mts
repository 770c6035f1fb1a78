// The product's beforeBuild hooks: on the builder, in the product's checkout, once the registry
// has said which images must be built and before any is. A failure stops the build with the hook's
// name and last lines: nothing built, nothing pushed (invttrdg's check that the internal npm
// packages its build installs are published runs here). With nothing to build they do not run:
// the images of this commit exist already.
import { EngineError } from '../../core/errors.mts';
import type { Step } from '../../core/pipeline.mts';
import { hookFailure, hookSecrets, runHookCommand } from '../../releases/hook-run.mts';
import { whoAmI } from '../../releases/lock.mts';
import type { HookDef } from '../../config/product-schema.mts';
import { imagesWith, releaseOf, type BuildContext } from '../context.mts';

function hooks(ctx: BuildContext): HookDef[] {
  return ctx.product.def.beforeBuild ?? [];
}

/** The facts a beforeBuild hook gets; a build has no previous release or route to tell. */
export function beforeBuildEnv(ctx: BuildContext, hook: HookDef): Record<string, string> {
  const release = releaseOf(ctx);
  return {
    BERTH_PRODUCT: ctx.product.name,
    BERTH_RELEASE: release.tag,
    BERTH_SHA: release.sha,
    BERTH_CHANGED: imagesWith(ctx, 'build')
      .map((image) => image.service)
      .join(','),
    BERTH_WHO: whoAmI(),
    BERTH_KIND: 'build',
    ...hookSecrets(ctx.runner, hook, ctx.settings.env),
  };
}

export const beforeBuild: Step<BuildContext> = {
  id: 'beforeBuild',
  title: 'run the beforeBuild hooks',
  enabled: (ctx) => hooks(ctx).length > 0,
  skip(ctx) {
    if (imagesWith(ctx, 'build').length === 0) return 'nothing to build';
    if (!ctx.options.dryRun) return false;
    const lines = hooks(ctx).map((hook) => `${hook.name}: ${ctx.runner.format(hook.command)} (in ${ctx.product.repoDir})`);
    return `dry run: would run beforeBuild ${lines.join('; ')}`;
  },
  async run(ctx) {
    for (const hook of hooks(ctx)) {
      ctx.ui.info(`beforeBuild ${hook.name}: ${ctx.runner.format(hook.command)}`);
      const record = await runHookCommand(ctx.runner, 'beforeBuild', hook, hook.command, {
        env: beforeBuildEnv(ctx, hook),
        cwd: ctx.product.repoDir,
      });
      ctx.hooks.push(record);
      if (record.result === 'ok') continue;
      throw new EngineError(`${hookFailure(record, hook.timeoutSeconds)}; nothing was built or pushed`, {
        fix: `make the hook pass, or see what it checks: ${ctx.runner.format(hook.command)}`,
        details: record.output ?? [],
      });
    }
  },
};
