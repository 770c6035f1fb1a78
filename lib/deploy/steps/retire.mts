// The old containers of start-first services leave last: after the new ones took the traffic
// (and passed smoke checks), and after a drain so that requests Caddy already sent them finish.
import { setTimeout as sleep } from 'node:timers/promises';
import { dockerRm, dockerStop } from '../../commands/docker.mts';
import { durationSeconds } from '../replica/values.mts';
import { found, replacedWith, type DeployContext } from '../context.mts';
import type { Step } from '../../core/pipeline.mts';
import { HANDOVER_REFRESH_MS } from '../edge.mts';

/** The service's stop_grace_period, as Compose would give it to `stop` (Docker's 10 s default). */
export function stopSeconds(ctx: Pick<DeployContext, 'found'>, service: string): number {
  const grace = found(ctx).compose.services[service]?.stop_grace_period;
  return (grace === undefined ? undefined : durationSeconds(grace)) ?? 10;
}

/** The product's drain; after a name handover at least two edge lookups, so no cached answer still names the old container. */
function drainMs(ctx: DeployContext, service: string, switched: boolean): number {
  if (!switched) return 0;
  const handedOver = ctx.journal.switched.some((s) => s.service === service && s.handover);
  return Math.max((ctx.product.services[service]?.drainSeconds ?? 3) * 1000, handedOver ? 2 * HANDOVER_REFRESH_MS : 0);
}

export function retiring(ctx: DeployContext): { service: string; ids: string[]; drainMs: number; stopSeconds: number }[] {
  const switched = ctx.journal.switched.map((s) => s.service);
  return replacedWith(ctx, 'start-first')
    .map((service) => ({
      service,
      ids: (ctx.before[service] ?? []).map((c) => c.id),
      drainMs: drainMs(ctx, service, switched.includes(service)),
      stopSeconds: stopSeconds(ctx, service),
    }))
    .filter((r) => r.ids.length > 0);
}

export const retire: Step<DeployContext> = {
  id: 'retire',
  title: 'drain and remove old containers',
  enabled: (ctx) => retiring(ctx).length > 0,
  skip(ctx) {
    if (!ctx.options.dryRun) return false;
    return `dry run: would ${retiring(ctx)
      .map(
        (r) =>
          `drain ${r.service} ${r.drainMs / 1000}s, then ${ctx.runner.format(dockerStop(r.ids, r.stopSeconds))} && ${ctx.runner.format(dockerRm(r.ids))}`,
      )
      .join('; ')}`;
  },
  async run(ctx) {
    const plans = retiring(ctx);
    // The switch happened before smoke checks: time already spent since then counts as drain.
    const waited = (ctx.timings.smoke ?? 0) + (ctx.timings.switch ?? 0);
    const drainMs = Math.max(0, ...plans.map((p) => p.drainMs)) - waited;
    if (drainMs > 0) await sleep(drainMs);
    // Each service stops with its own grace period, all at once: the slowest sets the pace.
    await Promise.all(plans.map((p) => ctx.runner.run(dockerStop(p.ids, p.stopSeconds), { timeoutMs: (p.stopSeconds + 30) * 1000 })));
    await ctx.runner.run(dockerRm(plans.flatMap((p) => p.ids)));
  },
};
