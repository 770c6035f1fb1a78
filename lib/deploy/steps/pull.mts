// Only images this deploy may need are pulled: the selected services and any service not running
// at all (first deploy). Untouched services are never pulled.
import { composePull } from '../../commands/compose.mts';
import { dockerPull } from '../../commands/docker.mts';
import { found, imageRef, servicesWith, type DeployContext } from '../context.mts';
import type { Step } from '../../core/pipeline.mts';
import { buildOnVm, skipBuildOnVm } from '../build-on-vm.mts';

/** berth knows the images of its own services and pulls them with docker directly, in parallel
 *  (a Compose v1 call alone costs ~0.5 s); other images (proxy, stateful) go through compose. */
export function pullCommands(ctx: DeployContext): string[][] {
  const { project } = found(ctx);
  const services = servicesWith(ctx, 'replace', 'start');
  const own = services.filter((s) => ['http', 'worker'].includes(ctx.product.services[s]?.kind ?? ''));
  const others = services.filter((s) => !own.includes(s));
  return [...own.map((s) => dockerPull(imageRef(ctx, s))), ...(others.length ? [composePull(project, others)] : [])];
}

export const pull: Step<DeployContext> = {
  id: 'pull',
  title: (ctx) => (ctx.options.buildOnVm ? 'build images on this VM (--build-on-vm)' : 'pull images'),
  skip(ctx) {
    if (ctx.options.buildOnVm) return skipBuildOnVm(ctx);
    if (servicesWith(ctx, 'replace', 'start').length === 0) return 'nothing to pull';
    if (ctx.options.offline) return 'every image is local (offline)';
    if (ctx.options.dryRun)
      return `dry run: would run ${pullCommands(ctx)
        .map((c) => ctx.runner.format(c))
        .join(' & ')}`;
    return false;
  },
  async run(ctx) {
    if (ctx.options.buildOnVm) return buildOnVm(ctx);
    await Promise.all(pullCommands(ctx).map((argv) => ctx.runner.run(argv, { env: ctx.composeEnv, timeoutMs: 15 * 60_000 })));
  },
};
