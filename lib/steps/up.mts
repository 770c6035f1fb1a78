// Differential `up`: only the services that changed or are missing, never their dependencies,
// never `down`, never --force-recreate. (Gapless replacement behind the proxy builds on this.)
import { composeUp } from '../commands/compose.mts';
import { servicesWith, type DeployContext } from '../context.mts';
import type { Step } from '../pipeline.mts';

export function upArgv(ctx: DeployContext): string[] {
  if (!ctx.project) throw new Error('preflight did not run');
  return composeUp(ctx.project, servicesWith(ctx, 'replace', 'start'), { noDeps: true });
}

export const up: Step<DeployContext> = {
  id: 'up',
  title: 'start new containers',
  skip(ctx) {
    if (servicesWith(ctx, 'replace', 'start').length === 0) return 'every service already runs its target image';
    if (ctx.options.dryRun) return `dry run: would run IMAGE_TAG=${ctx.options.tag} ${ctx.runner.format(upArgv(ctx))}`;
    return false;
  },
  async run(ctx) {
    await ctx.runner.run(upArgv(ctx), { env: ctx.composeEnv, timeoutMs: 10 * 60_000 });
  },
};
