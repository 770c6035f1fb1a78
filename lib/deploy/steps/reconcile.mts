// Makes the engine and the upstream files agree before anything new starts. After a deploy that
// was killed mid-switch there may be two containers of a service and upstreams naming either:
// the ones Caddy sends traffic to are kept, the others are orphans and go.
import { dockerRm } from '../../commands/docker.mts';
import { found, type DeployContext } from '../context.mts';
import { listContainers, type ContainerState } from '../../engine/engine.mts';
import type { Step } from '../../core/pipeline.mts';
import { dialAddress, namedIn, publishUpstreams, readUpstreams, writeUpstreams } from '../proxy.mts';
import { servicePort, switchedServices, usesEdge } from '../topology.mts';
import { handOver, handsOver } from '../handover.mts';
import { routedName } from '../edge.mts';
import { currentRelease, readLedger } from '../../releases/ledger.mts';

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
      // Nothing matches (state lost, killed before the first switch, or between the two renames of
      // a handover): the container of the release the ledger accepted, else the newest healthy one.
      const accepted = currentRelease(readLedger(ctx.product.stateDir))?.services[service]?.id;
      const keep =
        serving.length > 0
          ? serving
          : [
              running.find((c) => accepted !== undefined && c.imageId === accepted) ??
                running.filter((c) => c.health !== 'unhealthy').at(-1) ??
                (running.at(-1) as ContainerState),
            ];
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
      // Behind the edge, a routed name nobody holds (killed between the renames) goes to the one kept:
      // the edge routes by that name, so the route is back with no reload.
      const routed = `${routedName(ctx.product.projectName, service)}:${port}`;
      if (serving.length === 0 && keep.length === 1 && upstreams.join(' ') === routed && handsOver(ctx, service, keep)) {
        ctx.ui.warn(`${service}: ${routed.split(':')[0]} was held by no running container; giving it to ${keep[0]?.name}`);
        if (!ctx.options.dryRun) await handOver(ctx, service, keep[0] as ContainerState);
        continue;
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
