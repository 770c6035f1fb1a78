// What a rollback does to each service: decided once, from the images the ledger recorded (not
// from where a tag points now, which a dry run does not move), printed once, and run as printed
// through the deploy's own phases.
import type { Product } from '../config/load.mts';
import type { DeployContext, Plan } from '../deploy/context.mts';
import { planSteps, preflightSteps, pullSteps, recordSteps, switchSteps, type DeployPhases } from '../deploy/deploy-product.mts';
import { runningConfigs, type RunningConfig } from '../deploy/plan/running-config.mts';
import { strategyLines, withStrategies } from '../deploy/plan/strategy.mts';
import { askV1HashInputs } from '../deploy/steps/up.mts';
import { listContainers, type ContainerState } from '../engine/engine.mts';
import type { Step } from '../core/pipeline.mts';
import { shortTag } from '../releases/history.mts';
import { repointStep, type RepointAction } from './rollback-repoint.mts';

const id12 = (id: string) => id.slice(7, 19);

/** What the rollback does to each service of the product, and why. Pure. */
export function rollbackPlan(
  product: Pick<Product, 'services'>,
  tag: string,
  actions: RepointAction[],
  before: Record<string, ContainerState[]>,
  running: Record<string, RunningConfig> = {},
): Plan {
  const release = shortTag(tag);
  const plan: Plan = {};
  for (const [name, service] of Object.entries(product.services)) {
    const containers = before[name] ?? [];
    const action = actions.find((a) => a.service === name);
    const config = running[name];
    if (containers.length === 0) plan[name] = { action: 'start', reason: 'not running' };
    else if (!action && (service.kind === 'http' || service.kind === 'worker'))
      plan[name] = { action: 'keep', reason: `no image recorded in ${release}: keeps running as it is` };
    else if (!action) plan[name] = { action: 'keep', reason: 'a rollback re-points only http and worker services' };
    else if (config?.state === 'differs')
      plan[name] = { action: 'replace', force: true, reason: `${config.containers.join(', ')} runs another config than ${release}'s` };
    else if (!action.expectedId) plan[name] = { action: 'replace', reason: `${release} recorded no image ID: ${action.target}` };
    else if (containers.every((c) => c.imageId === action.expectedId))
      plan[name] = containers.some((c) => c.health === 'unhealthy')
        ? { action: 'replace', reason: `runs ${id12(action.expectedId)}, recorded for ${release}, but unhealthy` }
        : { action: 'keep', reason: `already runs ${id12(action.expectedId)}, recorded for ${release}` };
    else
      plan[name] = {
        action: 'replace',
        reason: `${[...new Set(containers.map((c) => id12(c.imageId)))].join(', ')} -> ${id12(action.expectedId)}, recorded for ${release}`,
      };
  }
  return plan;
}

/** Under the lock, after the checkout and preflight: what runs, whether it runs the release's
 *  config, and so the plan, with each replaced service's strategy. Later steps only carry it out. */
export function rollbackPlanStep(actions: RepointAction[]): Step<DeployContext> {
  return {
    id: 'select',
    title: 'plan the rollback',
    async run(ctx) {
      for (const name of Object.keys(ctx.product.services)) {
        ctx.before[name] = (await listContainers(ctx.runner, ctx.product.projectName, name)).filter((c) => c.running);
      }
      const targets = actions.map((a) => a.service).filter((s) => (ctx.before[s] ?? []).length > 0);
      ctx.running = await runningConfigs(ctx, targets);
      ctx.plan = withStrategies(ctx, rollbackPlan(ctx.product, ctx.options.tag, actions, ctx.before, ctx.running));
      for (const [name, entry] of Object.entries(ctx.plan)) ctx.ui.info(`${name}: ${entry.action} (${entry.reason})`);
      for (const line of strategyLines(ctx)) ctx.ui.info(line);
      // Compose v1's config dumps of what is replaced, as early as the plan allows (up.mts).
      askV1HashInputs(ctx);
    },
  };
}

/** A deploy's phases with the rollback's own plan: the tags re-pointed first under the lock, then
 *  the plan above in place of change detection and the image comparison. */
export function rollbackPhases(actions: RepointAction[]): DeployPhases {
  const decided = new Set(['select', 'changes', 'compare']);
  return {
    preflight: preflightSteps,
    plan: [repointStep(actions), ...planSteps.filter((step) => !decided.has(step.id)), rollbackPlanStep(actions)],
    pull: pullSteps,
    switch: [...switchSteps.filter((step) => !decided.has(step.id)), ...recordSteps],
    record: recordSteps,
  };
}

/** Every step of a rollback, in order. */
export function rollbackSteps(actions: RepointAction[]): Step<DeployContext>[] {
  const phases = rollbackPhases(actions);
  return [...phases.preflight, ...phases.plan, ...phases.pull, ...phases.switch];
}

/** Services whose running image is not the one the rollback asked for (empty when it worked). */
export function unmatched(actions: RepointAction[], running: Record<string, string[]>): string[] {
  return actions
    .filter((a) => a.expectedId)
    .filter((a) => {
      const ids = running[a.service] ?? [];
      return ids.length === 0 || ids.some((id) => id !== a.expectedId);
    })
    .map(
      (a) =>
        `${a.service} runs ${(running[a.service] ?? []).map((id) => id.slice(7, 19)).join(', ') || 'nothing'} instead of ${a.expectedId?.slice(7, 19)}`,
    );
}
