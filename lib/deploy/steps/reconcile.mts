// Makes the engine and the upstream files agree before anything new starts. After a deploy that
// was killed mid-switch there may be two containers of a service and upstreams naming either:
// the ones Caddy sends traffic to are kept, the others are orphans and go.
import { dockerRm } from '../../commands/docker.mts';
import { found, type DeployContext } from '../context.mts';
import { listContainers, type ContainerState } from '../../engine/engine.mts';
import type { Step } from '../../core/pipeline.mts';
import { dialAddress, namedIn, publishUpstreams, readUpstreams, writeUpstreams } from '../proxy.mts';
import { servicePort, switchedServices, usesEdge } from '../topology.mts';

export const reconcile: Step<DeployContext> = {
  id: 'reconcile',
  title: 'reconcile containers and upstreams',
  enabled: (ctx) => switchedServices(ctx).length > 0,
  async run(ctx) {
    const { proxy } = found(ctx);
    let changed = false;
    for (const service of switchedServices(ctx)) {
      const running = (await listContainers(ctx.runner, ctx.product.projectName, service)).filter((c) => c.running);
      if (running.length === 0) continue;
      const port = servicePort(ctx, service);
      const upstreams = readUpstreams(ctx.product, service) ?? [];
      const serving = running.filter((c) => namedIn(upstreams, c, proxy, port));
      // Nothing matches (state lost, or killed before the first switch): the newest healthy one serves.
      const keep =
        serving.length > 0 ? serving : [running.filter((c) => c.health !== 'unhealthy').at(-1) ?? (running.at(-1) as ContainerState)];
      const orphans = running.filter((c) => !keep.includes(c));
      if (orphans.length > 0) {
        ctx.ui.warn(
          `${service}: removing ${orphans.length} container(s) left by an interrupted deploy: ${orphans.map((c) => c.name).join(', ')}`,
        );
        await ctx.runner.run(
          dockerRm(
            orphans.map((c) => c.id),
            { force: true },
          ),
        );
      }
      const addresses = keep.map((c) => dialAddress(c, proxy, port)).filter((a): a is string => Boolean(a));
      if (addresses.join(' ') !== upstreams.join(' ')) {
        ctx.ui.info(`${service}: upstreams set to ${addresses.join(' ')}`);
        if (!ctx.options.dryRun) writeUpstreams(ctx.product, service, addresses);
        changed = true;
      }
    }
    // A dry run writes no site file for the edge; the own proxy's reload is printed by the runner.
    if (changed && proxy && !(ctx.options.dryRun && usesEdge(ctx))) await publishUpstreams(ctx, proxy);
  },
};
