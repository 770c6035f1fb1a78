// Which services a deploy touches. `select` runs before the pull (what is in play), `compare`
// after it (what really changed): a service whose running container already uses the target
// image is kept, so its container ID survives the deploy. `compare` closes the plan: each
// service replaced gets its strategy there.
import { imageRef, type DeployContext, type Plan } from '../context.mts';
import { listContainers, type ContainerState } from '../../engine/engine.mts';
import { localImageId } from '../../engine/images.mts';
import type { Step } from '../../core/pipeline.mts';
import { strategyLines, withStrategies } from '../plan/strategy.mts';
import type { Product } from '../../config/load.mts';
import { currentRelease, readLedger } from '../../releases/ledger.mts';
import { askV1HashInputs } from './up.mts';

/** Each service's action from what runs and what was asked for. */
export function selectServices(
  product: Pick<Product, 'services'>,
  options: DeployContext['options'],
  before: Record<string, ContainerState[]>,
): Plan {
  const plan: Plan = {};
  for (const [name, service] of Object.entries(product.services)) {
    const running = (before[name] ?? []).length > 0;
    const selected = options.only ? options.only.includes(name) : true;
    const routine = service.kind === 'http' || service.kind === 'worker';
    if (!running) {
      plan[name] = { action: 'start', reason: 'not running' };
    } else if (!selected) {
      plan[name] = { action: 'keep', reason: 'not in --only' };
    } else if (!routine && !(service.kind === 'stateful' && options.includeStateful)) {
      plan[name] = {
        action: 'keep',
        reason:
          service.kind === 'stateful' ? 'stateful: never replaced by a routine deploy (see --include-stateful)' : 'proxy: kept running',
      };
    } else {
      plan[name] = { action: 'replace', reason: `selected for ${options.tag}` };
    }
  }
  return plan;
}

export const select: Step<DeployContext> = {
  id: 'select',
  title: 'select services',
  async run(ctx) {
    for (const name of Object.keys(ctx.product.services)) {
      ctx.before[name] = (await listContainers(ctx.runner, ctx.product.projectName, name)).filter((c) => c.running);
    }
    ctx.plan = selectServices(ctx.product, ctx.options, ctx.before);
    for (const [name, plan] of Object.entries(ctx.plan)) ctx.ui.debug(`${name}: ${plan.action} (${plan.reason})`);
    // A new release replaces something: Compose v1's config dumps (up.mts) start now, beside
    // change detection and the pull. The same release again (a settled product) waits for the
    // changes step to say what it replaces, if anything.
    if (currentRelease(readLedger(ctx.product.stateDir))?.tag !== ctx.options.tag) askV1HashInputs(ctx);
  },
};

/** A targeted service's entry once its target image is known locally (or not). */
export function compareImage(
  entry: Plan[string] | undefined,
  running: ContainerState[],
  id: string | undefined,
  dryRun?: boolean,
): Plan[string] {
  const why = entry?.reason ?? 'selected';
  if (id === undefined)
    return { action: 'replace', reason: `${why} (${dryRun ? 'image not pulled yet: dry run' : 'target image not found locally'})` };
  if (running.length > 0 && running.every((c) => c.imageId === id && c.health !== 'unhealthy')) {
    return { action: 'keep', reason: `${why}, but it already runs ${id.slice(7, 19)}` };
  }
  return { action: 'replace', reason: `${why} (${running[0]?.imageId.slice(7, 19) ?? 'none'} -> ${id.slice(7, 19)})` };
}

export const compare: Step<DeployContext> = {
  id: 'compare',
  title: 'compare images',
  enabled: (ctx) => ctx.targets.length > 0,
  async run(ctx) {
    const plan = { ...ctx.plan };
    for (const name of ctx.targets) {
      // A config change (or --all) is applied even when the image is the same.
      if (plan[name]?.force) continue;
      const id = await localImageId(ctx.runner, imageRef(ctx, name));
      plan[name] = compareImage(plan[name], ctx.before[name] ?? [], id, ctx.options.dryRun);
    }
    ctx.plan = withStrategies(ctx, plan);
    for (const [name, entry] of Object.entries(ctx.plan)) ctx.ui.info(`${name}: ${entry.action} (${entry.reason})`);
    for (const line of strategyLines(ctx)) ctx.ui.info(line);
  },
};
