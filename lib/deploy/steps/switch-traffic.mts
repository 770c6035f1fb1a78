// Points Caddy at the new containers: only once they are healthy and Caddy itself can reach them.
// The old containers keep running (out of rotation) until smoke checks pass, so undoing the
// switch is a name handed back (or one more file write and reload). Each switched service goes
// into the undo journal with the upstreams it had, before its file is rewritten. A single-replica
// service switches by handing its routed name over (handover.mts), behind the shared edge or the
// product's own Caddy: no reload, so no client connection is closed. Several replicas are a list,
// and a reload.
import { composeUp } from '../../commands/compose.mts';
import { wgetInside, CADDY_CONFIG, caddyReload } from '../../commands/caddy.mts';
import { found, servicesWith, type DeployContext } from '../context.mts';
import { containerHasFile, listContainers, type ContainerState } from '../../engine/engine.mts';
import { handOver, handsOver, waitForLookups } from '../handover.mts';
import { HealthError } from '../../core/errors.mts';
import type { Step } from '../../core/pipeline.mts';
import { dialAddress, publishUpstreams, readUpstreams, upstreamFile, waitUntilAnswering, writeUpstreams } from '../proxy.mts';
import { routedName, siteFile } from '../edge.mts';
import { dockerRename } from '../../commands/docker.mts';
import { findProxy, ownsEdge, proxyLabel, proxyService, servicePort, switchedServices, usesEdge } from '../topology.mts';

const WGET_PATHS = ['/usr/bin/wget', '/bin/wget', '/usr/local/bin/wget', '/usr/sbin/wget'];

function servicesToSwitch(ctx: DeployContext): string[] {
  const switchable = switchedServices(ctx);
  return servicesWith(ctx, 'replace', 'start').filter((s) => switchable.includes(s));
}

export const switchTraffic: Step<DeployContext> = {
  id: 'switch',
  title: 'switch traffic',
  enabled: (ctx) => servicesToSwitch(ctx).length > 0,
  skip(ctx) {
    if (!ctx.options.dryRun) return false;
    const lines = servicesToSwitch(ctx).map(
      (s) => `write ${upstreamFile(ctx.product, s)} with the new ${s} container(s) on :${servicePort(ctx, s)}`,
    );
    const proxy = proxyService(ctx);
    const { project, proxy: running } = found(ctx);
    const edge = usesEdge(ctx) ? ctx.product.edge : undefined;
    if (running) {
      // What runs when the new containers exist is known only then: say which way each service goes.
      const ways = servicesToSwitch(ctx).map((s) => {
        const name = routedName(ctx.product.projectName, s);
        const holder = ctx.before[s]?.[0];
        const reload = edge
          ? `${ctx.runner.format(caddyReload(running.name, edge.config))} after rewriting ${siteFile(edge, ctx.product.name)}`
          : ctx.runner.format(caddyReload(running.name, CADDY_CONFIG));
        return (ctx.before[s]?.length ?? 0) <= 1
          ? `hand ${name} to the new ${s} container (${holder ? `${ctx.runner.format(dockerRename(holder.name, '<its compose name>'))} && ` : ''}${ctx.runner.format(dockerRename('<new container>', name))}; no reload unless its routes changed)`
          : `${s}: ${reload}`;
      });
      return `dry run: would ${lines.join('; ')}; ${ways.join('; ')}`;
    }
    const start = proxy && ctx.plan[proxy]?.action === 'start' ? ctx.runner.format(composeUp(project, [proxy])) : undefined;
    return `dry run: would ${lines.join('; ')}${start ? `; then ${start}` : ''}`;
  },
  async run(ctx) {
    const proxyName = proxyLabel(ctx);
    const preflight = found(ctx);
    const { proxy } = preflight;
    // A proxy image without wget (Caddy from scratch) cannot probe from inside: asking costs a
    // docker exec that can only fail, so look for it once; the host-side probe already passed.
    const canProbe = proxy ? await containerHasFile(ctx.runner, proxy.id, WGET_PATHS) : false;
    let handedOver = 0;
    for (const service of servicesToSwitch(ctx)) {
      const port = servicePort(ctx, service);
      const fresh = ctx.fresh[service] ?? (await listContainers(ctx.runner, ctx.product.projectName, service)).filter((c) => c.running);
      const addresses = fresh.map((c) => dialAddress(c, proxy, port)).filter((a): a is string => Boolean(a));
      if (addresses.length === 0)
        throw new HealthError(`${service}: the new container shares no network with the proxy`, {
          fix: `put ${service} and ${proxyName} on one compose network`,
        });
      if (proxy && canProbe === false) ctx.ui.debug(`${proxyName} has no wget: ${service} was probed from the host only`);
      if (proxy && canProbe !== false) {
        for (const address of addresses) {
          const reach = await ctx.runner.probe(
            wgetInside(proxy.id, `http://${address}${ctx.product.services[service]?.health?.path ?? '/'}`),
          );
          // 126/127: no wget in the proxy image; the host-side probe already passed, go on.
          if (reach.exitCode !== 0 && reach.exitCode !== 126 && reach.exitCode !== 127) {
            throw new HealthError(`${service}: ${address} is healthy but the proxy cannot reach it`, { details: [reach.stderr.trim()] });
          }
        }
      }
      const before = readUpstreams(ctx.product, service) ?? [];
      const entry: (typeof ctx.journal.switched)[number] = { service, before };
      ctx.journal.switched.push(entry);
      if (handsOver(ctx, service, fresh)) {
        entry.handover = await handOver(ctx, service, fresh[0] as ContainerState);
        const { name, holder } = entry.handover;
        handedOver++;
        addresses.splice(0, addresses.length, `${name}:${port}`);
        ctx.ui.info(
          `${service}: ${name} handed ${holder ? `from ${holder.name} ` : ''}to the new container (was ${entry.handover.fresh.name})`,
        );
      }
      writeUpstreams(ctx.product, service, addresses);
      ctx.ui.info(`${service}: upstreams ${before.join(' ') || '(none)'} -> ${addresses.join(' ')}`);
    }
    // A route that changed (the first deploy, new routes, a name instead of a list) is a reload;
    // a handover alone changes nothing Caddy reads, so publishing finds nothing to reload.
    await publishUpstreams(ctx, proxy);
    if (handedOver > 0) await waitForLookups();
    const own = proxyService(ctx);
    // Preflight refuses a deploy behind an edge that does not run, unless this product runs it.
    if (!proxy && own && (!usesEdge(ctx) || ownsEdge(ctx))) {
      try {
        await ctx.runner.run(composeUp(preflight.project, [own]), { env: ctx.composeEnv });
      } finally {
        // No proxy ran at preflight: the one just started is what smoke checks and undo use.
        preflight.proxy = await findProxy(ctx);
      }
      if (preflight.proxy) await waitUntilAnswering(ctx.runner, preflight.proxy);
    }
  },
};
