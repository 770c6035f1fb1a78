// A product's one-off migration runs from the new image with the new environment, before any
// traffic moves: if it fails, nothing was switched and the old release keeps serving.
import { composeRun } from '../../commands/compose.mts';
import { found, servicesWith, type DeployContext } from '../context.mts';
import type { Step } from '../../core/pipeline.mts';

function migrateArgv(ctx: DeployContext): string[] {
  const migrate = ctx.product.def.migrate;
  if (!migrate) throw new Error('no migration');
  return composeRun(found(ctx).project, migrate.service, migrate.command);
}

export const migrate: Step<DeployContext> = {
  id: 'migrate',
  title: 'run migrations',
  enabled: (ctx) =>
    Boolean(ctx.product.def.migrate) && servicesWith(ctx, 'replace', 'start').includes(ctx.product.def.migrate?.service ?? ''),
  skip: (ctx) => (ctx.options.dryRun ? `dry run: would run IMAGE_TAG=${ctx.options.tag} ${ctx.runner.format(migrateArgv(ctx))}` : false),
  async run(ctx) {
    await ctx.runner.run(migrateArgv(ctx), { env: ctx.composeEnv, timeoutMs: 30 * 60_000 });
  },
};
