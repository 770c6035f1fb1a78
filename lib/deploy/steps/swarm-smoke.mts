// Smoke checks and the monitor window on a swarm, through the front door: the product's proxy
// service, whose task on this manager publishes its port in host mode. Swarm has completed each
// update by now (healthy, past its own monitor); a failure here is undone by berth, which deploys
// the previous release's recorded digests again (restoreOnSwarm, from undo).
import { stackServiceName, servicePs } from '../../commands/stack.mts';
import { HealthError } from '../../core/errors.mts';
import type { Step } from '../../core/pipeline.mts';
import { servicesWith, type DeployContext } from '../context.mts';
import { waitUntilAnswering } from '../proxy.mts';
import { jsonLines, missingTasks, type SwarmTask } from '../swarm/updates.mts';
import { proxyService } from '../topology.mts';
import { imageCommits, smokeAndMonitor, smokeDryRun } from './smoke.mts';
import { inspectStack } from '../swarm/stack-state.mts';
import { swarmFrontDoor } from '../swarm/door-switch.mts';

export const swarmSmoke: Step<DeployContext> = {
  id: 'smoke',
  title: 'smoke checks through the front door',
  enabled: (ctx) => (ctx.product.def.smoke?.length ?? 0) > 0 && servicesWith(ctx, 'replace', 'start').length > 0,
  skip: (ctx) => (ctx.options.dryRun ? smokeDryRun(ctx) : false),
  async run(ctx) {
    const proxy = await swarmFrontDoor(ctx);
    if (!proxy) {
      throw new HealthError(`smoke checks need a running task of ${proxyService(ctx) ?? 'the proxy service'} on this manager`, {
        fix: 'pin the proxy service to the manager (deploy.placement.constraints: [node.role == manager]) and publish its port with mode: host',
      });
    }
    await waitUntilAnswering(ctx.runner, proxy);
    const images = ctx.swarm?.images ?? {};
    const http = Object.fromEntries(Object.entries(images).filter(([name]) => ctx.product.services[name]?.kind === 'http'));
    const watched = servicesWith(ctx, 'replace', 'start').filter((name) => images[name]);
    await smokeAndMonitor(ctx, proxy, { tag: ctx.options.tag, builtFrom: await imageCommits(ctx, http) }, async () => {
      const services = await inspectStack(ctx);
      for (const name of watched) {
        const service = services[name];
        const tasks = jsonLines<SwarmTask>(await ctx.runner.read(servicePs(stackServiceName(ctx.product.projectName, name))));
        const missing = service
          ? missingTasks(
              service,
              tasks.filter((task) => task.Image === images[name]),
            )
          : 1;
        if (missing > 0) {
          throw new HealthError(`${name}: ${missing} task(s) of ${ctx.options.tag} stopped running during the monitor window`, {
            fix: `the release was rolled back; see docker service ps ${stackServiceName(ctx.product.projectName, name)}`,
          });
        }
      }
    });
  },
};
