// Which services a deploy touches. `select` runs before the pull (what is in play), `compare`
// after it (what really changed): a service whose running container already uses the target
// image is kept, so its container ID survives the deploy.
import { imageRef, type DeployContext } from '../context.mts';
import { listContainers, localImageId } from '../../engine/engine.mts';
import type { Step } from '../../core/pipeline.mts';

export const select: Step<DeployContext> = {
  id: 'select',
  title: 'select services',
  async run(ctx) {
    for (const [name, service] of Object.entries(ctx.product.services)) {
      ctx.before[name] = (await listContainers(ctx.runner, ctx.product.projectName, name)).filter((c) => c.running);
      const running = ctx.before[name].length > 0;
      const selected = ctx.options.only ? ctx.options.only.includes(name) : true;
      const routine = service.kind === 'http' || service.kind === 'worker';
      if (!running) {
        ctx.plan[name] = { action: 'start', reason: 'not running' };
      } else if (!selected) {
        ctx.plan[name] = { action: 'keep', reason: 'not in --only' };
      } else if (!routine && !(service.kind === 'stateful' && ctx.options.includeStateful)) {
        ctx.plan[name] = {
          action: 'keep',
          reason: service.kind === 'stateful' ? 'stateful: never replaced by a routine deploy (see --include-stateful)' : 'proxy: kept running',
        };
      } else {
        ctx.plan[name] = { action: 'replace', reason: `selected for ${ctx.options.tag}` };
        ctx.targets.push(name);
      }
    }
    for (const [name, plan] of Object.entries(ctx.plan)) ctx.ui.debug(`${name}: ${plan.action} (${plan.reason})`);
  },
};

export const compare: Step<DeployContext> = {
  id: 'compare',
  title: 'compare images',
  enabled: (ctx) => ctx.targets.length > 0,
  async run(ctx) {
    for (const name of ctx.targets) {
      // A config change (or --all) is applied even when the image is the same.
      if (ctx.plan[name]?.force) continue;
      const why = ctx.plan[name]?.reason ?? 'selected';
      const id = await localImageId(ctx.runner, imageRef(ctx, name));
      if (id === undefined) {
        ctx.plan[name] = { action: 'replace', reason: `${why} (${ctx.options.dryRun ? 'image not pulled yet: dry run' : 'target image not found locally'})` };
        continue;
      }
      const running = ctx.before[name] ?? [];
      if (running.length > 0 && running.every((c) => c.imageId === id && c.health !== 'unhealthy')) {
        ctx.plan[name] = { action: 'keep', reason: `${why}, but it already runs ${id.slice(7, 19)}` };
      } else {
        ctx.plan[name] = { action: 'replace', reason: `${why} (${running[0]?.imageId.slice(7, 19) ?? 'none'} -> ${id.slice(7, 19)})` };
      }
    }
    for (const [name, plan] of Object.entries(ctx.plan)) ctx.ui.info(`${name}: ${plan.action} (${plan.reason})`);
  },
};
