// How a replaced service is replaced, decided while planning from what preflight found.
import type { ComposeServiceView, DeployContext, Plan, Strategy } from '../context.mts';
import { switchedServices } from '../topology.mts';

/** A published host port or a fixed container_name means two containers cannot run at once. */
export function singletonReason(view: ComposeServiceView | undefined): string | undefined {
  if (!view) return undefined;
  if (view.container_name) return `sets container_name ${view.container_name}`;
  const fixed = (view.ports ?? []).find((p) =>
    typeof p === 'object' && p !== null
      ? Boolean((p as { published?: unknown }).published)
      : /^(\[?[\d.:a-f]*\]?:)?\d+:\d+/.test(String(p)),
  );
  return fixed === undefined
    ? undefined
    : `publishes a fixed host port (${typeof fixed === 'object' ? JSON.stringify(fixed) : String(fixed)})`;
}

export function chooseStrategy(ctx: Pick<DeployContext, 'product' | 'found'>, service: string): { strategy: Strategy; why: string } {
  const def = ctx.product.services[service];
  if (!def) throw new Error(`no service ${service}`);
  if (def.kind === 'stateful') return { strategy: 'stop-first', why: 'stateful' };
  if (def.stopFirst) return { strategy: 'stop-first', why: 'stopFirst is set' };
  const singleton = singletonReason(ctx.found?.compose.services[service]);
  if (singleton) return { strategy: 'stop-first', why: singleton };
  const switched = switchedServices(ctx);
  // Only a product that switches traffic starts HTTP services beside the old ones.
  if (def.kind === 'http' && !(ctx.found?.proxy && switched.length > 0)) {
    return { strategy: 'stop-first', why: switched.includes(service) ? 'the proxy is not running' : 'no proxy in front' };
  }
  return { strategy: 'start-first', why: def.kind === 'http' ? 'behind the proxy' : 'overlap' };
}

/** The plan with each replaced service's strategy set, and none on the others. */
export function withStrategies(ctx: Pick<DeployContext, 'product' | 'found'>, plan: Plan): Plan {
  const decided = Object.entries(plan).map(([name, { strategy: _, ...entry }]) =>
    entry.action === 'replace' ? [name, { ...entry, strategy: chooseStrategy(ctx, name).strategy }] : [name, entry],
  );
  return Object.fromEntries(decided);
}

/** One line per replaced service: how, and why. */
export function strategyLines(ctx: Pick<DeployContext, 'product' | 'found' | 'plan'>): string[] {
  return Object.entries(ctx.plan)
    .filter(([, p]) => p.action === 'replace')
    .map(([name]) => {
      const { strategy, why } = chooseStrategy(ctx, name);
      return `${name}: ${strategy} (${why})`;
    });
}
