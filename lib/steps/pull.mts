// Only images this deploy may need are pulled: the selected services and any service not running
// at all (first deploy). Untouched services are never pulled.
import { composePull } from '../commands/compose.mts';
import { servicesWith, type DeployContext } from '../context.mts';
import type { Step } from '../pipeline.mts';
import { buildOnVm, skipBuildOnVm } from '../build/on-vm.mts';

export function pullArgv(ctx: DeployContext): string[] {
  if (!ctx.project) throw new Error('preflight did not run');
  return composePull(ctx.project, servicesWith(ctx, 'replace', 'start'));
}

export const pull: Step<DeployContext> = {
  id: 'pull',
  title: (ctx) => (ctx.options.buildOnVm ? 'build images on this VM (--build-on-vm)' : 'pull images'),
  skip(ctx) {
    if (ctx.options.buildOnVm) return skipBuildOnVm(ctx);
    if (servicesWith(ctx, 'replace', 'start').length === 0) return 'nothing to pull';
    if (ctx.options.offline) return 'every image is local (offline)';
    if (ctx.options.dryRun) return `dry run: would run IMAGE_TAG=${ctx.options.tag} ${ctx.runner.format(pullArgv(ctx))}`;
    return false;
  },
  async run(ctx) {
    if (ctx.options.buildOnVm) return buildOnVm(ctx);
    await ctx.runner.run(pullArgv(ctx), { env: ctx.composeEnv, timeoutMs: 15 * 60_000 });
  },
};
