// The product's shape as the switch sees it: which proxy its traffic goes through (its own proxy
// service, or the VM's shared edge), which services berth switches behind it, and on which port.
import type { DeployContext } from './context.mts';
import { routedServices } from './edge.mts';
import { listContainers, type ContainerState } from '../engine/engine.mts';

type WithProduct = Pick<DeployContext, 'product'>;

/** The product's own proxy service (in its own compose project), if it has one. */
export function proxyService(ctx: WithProduct): string | undefined {
  return Object.values(ctx.product.services).find((s) => s.kind === 'proxy')?.name;
}

/** Traffic reaches the product through the shared edge: it has routes (and load.mts found the edge). */
export function usesEdge(ctx: WithProduct): boolean {
  return Boolean(ctx.product.edge) && routedServices(ctx.product).length > 0;
}

/** The product whose compose project runs the edge Caddy (common_plat on the real VM). */
export function ownsEdge(ctx: WithProduct): boolean {
  const edge = ctx.product.edge;
  return Boolean(edge) && edge?.project === ctx.product.projectName && edge?.service === proxyService(ctx);
}

/** How the operator reads the proxy in messages. */
export function proxyLabel(ctx: WithProduct): string {
  const edge = ctx.product.edge;
  return usesEdge(ctx) && edge && !ownsEdge(ctx) ? `the edge proxy (${edge.project}/${edge.service})` : (proxyService(ctx) ?? 'the proxy');
}

/** HTTP services whose traffic berth switches: behind the proxy, with a health port. */
export function switchedServices(ctx: WithProduct): string[] {
  const http = Object.values(ctx.product.services).filter((s) => s.kind === 'http' && s.health?.port);
  if (usesEdge(ctx)) return http.filter((s) => s.routes).map((s) => s.name);
  if (!proxyService(ctx)) return [];
  return http.map((s) => s.name);
}

export function servicePort(ctx: WithProduct, service: string): number {
  return ctx.product.services[service]?.health?.port ?? 80;
}

/** The running proxy container: the edge's (in whichever project runs it), or the product's own. */
export async function findProxy(ctx: Pick<DeployContext, 'product' | 'runner'>): Promise<ContainerState | undefined> {
  const edge = ctx.product.edge;
  const [project, service] = usesEdge(ctx) && edge ? [edge.project, edge.service] : [ctx.product.projectName, proxyService(ctx)];
  if (!service) return undefined;
  return (await listContainers(ctx.runner, project, service)).filter((c) => c.running).at(-1);
}
