// What berth reads of a stack while it deploys: the plan's facts on the context, and the stack's
// services as Swarm has them now.
import { stackServiceObjects } from '../../engine/swarm.mts';
import type { DeployContext, SwarmDeploy } from '../context.mts';
import type { SwarmService } from './updates.mts';

/** The swarm facts the plan step put on the context. */
export function swarmOf(ctx: DeployContext): SwarmDeploy {
  if (!ctx.swarm) throw new Error('the swarm plan did not run');
  return ctx.swarm;
}

/** The stack's services as Swarm has them now, by berth's service name. */
export async function inspectStack(ctx: Pick<DeployContext, 'product' | 'runner'>): Promise<Record<string, SwarmService>> {
  const stack = ctx.product.projectName;
  const services = (await stackServiceObjects(ctx.runner, stack)) as SwarmService[];
  const byName: Record<string, SwarmService> = {};
  for (const service of services) {
    const name = service.Spec?.Name ?? '';
    if (name.startsWith(`${stack}_`)) byName[name.slice(stack.length + 1)] = service;
  }
  return byName;
}
