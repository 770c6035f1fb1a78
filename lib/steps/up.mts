// Starts the new containers. Never `down`, never --force-recreate, never a dependency.
// start-first: `up --scale svc=2N --no-recreate` adds the new containers beside the old ones,
// which keep serving until the switch. stop-first: a plain `up` recreates (Compose stops the old
// one first) for what cannot run twice or must not (stateful).
import { composeUp } from '../commands/compose.mts';
import { servicesWith, type DeployContext, type Strategy } from '../context.mts';
import { listContainers } from '../engine.mts';
import type { Step } from '../pipeline.mts';
import { singletonReason } from './preflight.mts';
import { proxyService, switchedServices } from './reconcile.mts';

export function chooseStrategy(ctx: Pick<DeployContext, 'product' | 'composeServices' | 'proxy'>, service: string): { strategy: Strategy; why: string } {
  const def = ctx.product.services[service];
  if (!def) throw new Error(`no service ${service}`);
  if (def.kind === 'stateful') return { strategy: 'stop-first', why: 'stateful' };
  if (def.stopFirst) return { strategy: 'stop-first', why: 'stopFirst is set' };
  const singleton = singletonReason(ctx.composeServices[service]);
  if (singleton) return { strategy: 'stop-first', why: singleton };
  if (def.kind === 'http' && !ctx.proxy) {
    return { strategy: 'stop-first', why: switchedServices(ctx).includes(service) ? 'the proxy is not running' : 'no proxy in front' };
  }
  return { strategy: 'start-first', why: def.kind === 'http' ? 'behind the proxy' : 'overlap' };
}

/** The compose calls this step makes, in order: what runs, and what dry-run prints. */
export function upCommands(ctx: DeployContext): string[][] {
  if (!ctx.project) throw new Error('preflight did not run');
  const proxy = proxyService(ctx);
  const deferProxy = proxy !== undefined && ctx.plan[proxy]?.action === 'start' && switchedServices(ctx).length > 0;
  const plain: string[] = [];
  const scale: Record<string, number> = {};
  for (const service of servicesWith(ctx, 'replace', 'start')) {
    // The proxy starts once the upstream files name healthy containers (the switch step).
    if (service === proxy && deferProxy) continue;
    if (ctx.plan[service]?.action === 'replace' && ctx.strategy[service] === 'start-first') {
      scale[service] = 2 * Math.max(1, ctx.before[service]?.length ?? 1);
    } else plain.push(service);
  }
  const commands: string[][] = [];
  if (plain.length) commands.push(composeUp(ctx.project, plain, { noDeps: true }));
  if (Object.keys(scale).length) commands.push(composeUp(ctx.project, Object.keys(scale), { noDeps: true, noRecreate: true, scale }));
  return commands;
}

export const up: Step<DeployContext> = {
  id: 'up',
  title: 'start new containers',
  skip(ctx) {
    for (const service of servicesWith(ctx, 'replace')) {
      const { strategy, why } = chooseStrategy(ctx, service);
      ctx.strategy[service] = strategy;
      ctx.ui.info(`${service}: ${strategy} (${why})`);
    }
    const commands = upCommands(ctx);
    if (commands.length === 0) return 'every service already runs its target image';
    if (ctx.options.dryRun) return `dry run: would run ${commands.map((c) => `IMAGE_TAG=${ctx.options.tag} ${ctx.runner.format(c)}`).join(' && ')}`;
    return false;
  },
  async run(ctx) {
    ctx.existingIds = (await listContainers(ctx.runner, ctx.product.projectName, undefined, true)).map((c) => c.id);
    for (const argv of upCommands(ctx)) await ctx.runner.run(argv, { env: ctx.composeEnv, timeoutMs: 10 * 60_000 });
  },
};
