// The product's shape as the switch sees it: which service is the proxy, which services berth
// switches behind it, and on which port.
import type { DeployContext } from './context.mts';
import { listContainers, type ContainerState } from '../engine/engine.mts';

export function proxyService(ctx: Pick<DeployContext, 'product'>): string | undefined {
  return Object.values(ctx.product.services).find((s) => s.kind === 'proxy')?.name;
}

/** HTTP services whose traffic berth switches: behind the product's proxy, with a health port. */
export function switchedServices(ctx: Pick<DeployContext, 'product'>): string[] {
  if (!proxyService(ctx)) return [];
  return Object.values(ctx.product.services)
    .filter((s) => s.kind === 'http' && s.health?.port)
    .map((s) => s.name);
}

export function servicePort(ctx: Pick<DeployContext, 'product'>, service: string): number {
  return ctx.product.services[service]?.health?.port ?? 80;
}

/** The running proxy container, if the product has one and it runs. */
export async function findProxy(ctx: Pick<DeployContext, 'product' | 'runner'>): Promise<ContainerState | undefined> {
  const name = proxyService(ctx);
  if (!name) return undefined;
  return (await listContainers(ctx.runner, ctx.product.projectName, name)).filter((c) => c.running).at(-1);
}
