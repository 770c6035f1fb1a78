// The reload-free switch, behind the shared edge or the product's own Caddy. A single-replica
// switched service is routed by a name of its own (edge.mts routedName), which Caddy looks up in
// Docker's DNS every HANDOVER_REFRESH_MS (`dynamic a`). A switch hands the name over: the container holding it gets
// its Compose name back, the new healthy one takes the name, as two back-to-back Engine API calls.
// Caddy's config never changes, so no client connection is closed (a reload closes idle ones).
// Measured in docs/research/front-door-switch.md: 0 failed in 36 switches, 0 answers before ready.
import { setTimeout as sleep } from 'node:timers/promises';
import { dockerRename, NUMBER_LABEL } from '../commands/docker.mts';
import { found, type DeployContext, type Handover } from './context.mts';
import { HANDOVER_REFRESH_MS, routedName } from './edge.mts';
import { replicaName } from './replica/labels.mts';
import { listContainers, type ContainerState } from '../engine/engine.mts';
import { switchedServices } from './topology.mts';

/** One container before and one after (of a service the proxy routes): the name can be handed over. */
export function handsOver(ctx: Pick<DeployContext, 'product' | 'before'>, service: string, fresh: ContainerState[]): boolean {
  return switchedServices(ctx).includes(service) && fresh.length === 1 && (ctx.before[service]?.length ?? 0) <= 1;
}

/** The name Compose gave a container: where it goes when it lets go of the routed name. */
export function composeName(ctx: Pick<DeployContext, 'found' | 'product'>, container: ContainerState, service: string): string {
  const number = Number(container.labels[NUMBER_LABEL]);
  if (!Number.isInteger(number) || number < 1) return `${container.name}-${container.id.slice(0, 12)}`;
  return replicaName(found(ctx).flavour.name, ctx.product.projectName, service, number);
}

/** Gives `fresh` the service's routed name; returns what undo needs to give it back. */
export async function handOver(ctx: DeployContext, service: string, fresh: ContainerState): Promise<Handover> {
  const name = routedName(ctx.product.projectName, service);
  // Whoever holds it: the old container, or a stopped one left by a crash (it would block the rename).
  const holder = (await listContainers(ctx.runner, ctx.product.projectName, service, true)).find(
    (c) => c.name === name && c.id !== fresh.id,
  );
  const handover: Handover = { name, fresh: { id: fresh.id, name: fresh.name } };
  if (holder) handover.holder = { id: holder.id, name: composeName(ctx, holder, service) };
  // Back to back, no await between them but the engine's: the name resolves to nobody for as
  // short a time as Engine 20.10 allows (it has no atomic move).
  if (handover.holder) await ctx.runner.run(dockerRename(handover.holder.id, handover.holder.name));
  await ctx.runner.run(dockerRename(fresh.id, name));
  fresh.name = name;
  return handover;
}

/** After handovers: the proxy has looked the names up again, so what it serves now is the new release. */
export function waitForLookups(): Promise<void> {
  return sleep(HANDOVER_REFRESH_MS + 100);
}

/** Undo: the new container lets go of the name, the old one takes it back. */
export async function handBack(ctx: DeployContext, handover: Handover): Promise<void> {
  await ctx.runner.run(dockerRename(handover.fresh.id, handover.fresh.name));
  if (handover.holder) await ctx.runner.run(dockerRename(handover.holder.id, handover.name));
}
