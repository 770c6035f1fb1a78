// Smoke checks and the monitor window on a swarm, through the front door: the product's proxy
// service, whose task on this manager publishes its port in host mode. When berth switches the
// front door itself they start the moment it names the new release, during Swarm's own monitor
// window (the follow step starts them, this step waits for their verdict): Swarm's monitor and
// berth's then run side by side rather than one after the other. Otherwise, with Swarm's own
// switch still serving old and new for a while, they start once Swarm has completed each update.
// A failure here is undone by berth, which deploys the previous release's recorded digests again
// (restoreOnSwarm, from undo).
import { stackServiceName } from '../../commands/stack.mts';
import { serviceTaskObjects } from '../../engine/swarm.mts';
import { HealthError } from '../../core/errors.mts';
import type { Step } from '../../core/pipeline.mts';
import { servicesWith, type DeployContext, type SwarmDeploy } from '../context.mts';
import { waitUntilAnswering } from '../proxy.mts';
import { tasksShort, type SwarmService, type TaskObject } from '../swarm/updates.mts';
import { proxyService } from '../topology.mts';
import { imageCommits, smokeAndMonitor, smokeDryRun } from './smoke.mts';
import { inspectStack } from '../swarm/stack-state.mts';
import { swarmFrontDoor } from '../swarm/door-switch.mts';

const smokeEnabled = (ctx: DeployContext) => (ctx.product.def.smoke?.length ?? 0) > 0 && servicesWith(ctx, 'replace', 'start').length > 0;

/** The services whose new tasks the monitor window watches. */
const watchedServices = (ctx: DeployContext) => servicesWith(ctx, 'replace', 'start').filter((name) => ctx.swarm?.images[name]);

/** The first watched service short of running tasks of its new image, with how many it lacks. */
async function shortOfTasks(ctx: DeployContext, services: Record<string, SwarmService>): Promise<[string, number] | undefined> {
  const images = ctx.swarm?.images ?? {};
  for (const name of watchedServices(ctx)) {
    const service = services[name];
    if (!service) return [name, 1];
    const tasks = (await serviceTaskObjects(ctx.runner, stackServiceName(ctx.product.projectName, name))) as TaskObject[];
    const missing = tasksShort(service, tasks, images[name]);
    if (missing > 0) return [name, missing];
  }
  return undefined;
}

async function smokeOnSwarm(ctx: DeployContext, signal?: AbortSignal): Promise<void> {
  const proxy = await swarmFrontDoor(ctx);
  if (!proxy) {
    throw new HealthError(`smoke checks need a running task of ${proxyService(ctx) ?? 'the proxy service'} on this manager`, {
      fix: 'pin the proxy service to the manager (deploy.placement.constraints: [node.role == manager]) and publish its port with mode: host',
    });
  }
  await waitUntilAnswering(ctx.runner, proxy);
  const images = ctx.swarm?.images ?? {};
  const http = Object.fromEntries(Object.entries(images).filter(([name]) => ctx.product.services[name]?.kind === 'http'));
  const tags = { tag: ctx.options.tag, builtFrom: await imageCommits(ctx, http) };
  await smokeAndMonitor(
    ctx,
    proxy,
    tags,
    async () => {
      const short = await shortOfTasks(ctx, await inspectStack(ctx));
      if (short) {
        throw new HealthError(`${short[0]}: ${short[1]} task(s) of ${ctx.options.tag} stopped running during the monitor window`, {
          fix: `the release was rolled back; see docker service ps ${stackServiceName(ctx.product.projectName, short[0])}`,
        });
      }
    },
    signal,
  );
}

/**
 * Called by the follow at each poll once the front door may have moved: starts the smoke checks
 * when nothing but the new release can answer them. That is when berth switches every http
 * service the deploy changes (a service Swarm switches still has old tasks answering until its
 * update completes), each of them names its new release, and every watched service runs all
 * the tasks of its new image. Returns whether they run now.
 */
export async function startSmokeEarly(ctx: DeployContext, services: Record<string, SwarmService>): Promise<boolean> {
  const swarm = ctx.swarm;
  if (!swarm?.door?.length || swarm.smoke) return Boolean(swarm?.smoke);
  if (!smokeEnabled(ctx) || (swarm.pinned?.length ?? 0) > 0) return false;
  const switched = new Set(swarm.door.map((door) => door.service));
  if (watchedServices(ctx).some((name) => ctx.product.services[name]?.kind === 'http' && !switched.has(name))) return false;
  if (await shortOfTasks(ctx, services)) return false;
  const controller = new AbortController();
  const smoke: NonNullable<SwarmDeploy['smoke']> = {
    verdict: smokeOnSwarm(ctx, controller.signal).then(
      () => undefined,
      (error: unknown) => {
        smoke.failed = true;
        return error;
      },
    ),
    stop: () => controller.abort(),
  };
  swarm.smoke = smoke;
  ctx.ui.debug('smoke checks started: the front door names the new release');
  return true;
}

export const swarmSmoke: Step<DeployContext> = {
  id: 'smoke',
  title: 'smoke checks through the front door',
  enabled: smokeEnabled,
  skip: (ctx) => (ctx.options.dryRun ? smokeDryRun(ctx) : false),
  async run(ctx) {
    const started = ctx.swarm?.smoke;
    if (!started) return smokeOnSwarm(ctx);
    const error = await started.verdict;
    if (error) throw error;
  },
};
