// The front-door switch on a swarm, against the engine (the reasoning is in door.mts): pin the old
// tasks before the stack deploy, switch to the new tasks once they all run, and when the follow
// ends (completed, rolled back, failed) name by its alias whatever runs. Every change is an upstream file written whole, then one reload of
// the proxy's task on this manager (none when it already runs these files).
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { stackServiceName } from '../../commands/stack.mts';
import { inspectContainers, type ContainerState } from '../../engine/engine.mts';
import { serviceTaskObjects, taskContainerIdsHere } from '../../engine/swarm.mts';
import { CommandError } from '../../core/errors.mts';
import { writeFileAtomic } from '../../releases/atomic.mts';
import type { DeployContext } from '../context.mts';
import { reloadOwnProxy, renderUpstreams, upstreamFile, upstreamsDir } from '../proxy.mts';
import { proxyService } from '../topology.mts';
import { answersTo, networksOf, taskAddresses, type DoorService, type InspectedTask } from './door.mts';
import type { SwarmService } from './updates.mts';
import { swarmOf } from './stack-state.mts';

/** The proxy service's running task container on this node: where smoke checks and reloads go. */
export async function swarmFrontDoor(ctx: Pick<DeployContext, 'product' | 'runner'>): Promise<ContainerState | undefined> {
  const service = proxyService(ctx);
  if (!service) return undefined;
  const ids = await taskContainerIdsHere(ctx.runner, ctx.product.projectName, service);
  return (await inspectContainers(ctx.runner, ids)).find((c) => c.running);
}

/** The tasks Swarm means to run for a service, inspected: states, images, addresses. A service the
 *  stack does not have (yet, or any more) has none to pin. */
async function runningTasks(ctx: DeployContext, service: string): Promise<InspectedTask[]> {
  return (await serviceTaskObjects(ctx.runner, stackServiceName(ctx.product.projectName, service), { running: true })) as InspectedTask[];
}

function writeDoorFile(ctx: DeployContext, door: DoorService, text: string): void {
  mkdirSync(upstreamsDir(ctx.product), { recursive: true });
  writeFileAtomic(upstreamFile(ctx.product, door.service), text);
}

/** The file naming one release's alias: Caddy looks it up again every HANDOVER_REFRESH_MS. */
function aliasText(alias: string, port: number): string {
  return renderUpstreams([`${alias}:${port}`], alias);
}

async function reload(ctx: DeployContext, proxy: ContainerState | undefined): Promise<void> {
  // No proxy task here yet (the first deploy): it reads the files when it starts.
  if (!proxy) return;
  try {
    if (await reloadOwnProxy(ctx.runner, ctx.product, proxy)) ctx.ui.debug(`reloaded ${proxy.name}`);
  } catch (error) {
    // The first deploy after a product's proxy gains berth's upstream mount: the running task
    // has the new Caddyfile but not the mount. Its successor, which this deploy starts, reads the
    // files; until then Swarm's own switch serves, and the smoke checks still judge the release.
    const said = (error instanceof CommandError ? error.stderr : String(error)).trim().split('\n').pop() ?? '';
    ctx.ui.warn(
      `the proxy ${proxy.name} did not load berth's upstream files (${said}); it keeps its config, and Swarm's rolling update switches this time`,
    );
  }
}

/**
 * Before the stack deploy: each door service that runs already and gets a new release is pinned to
 * its running tasks' addresses, so Swarm's DNS changes during its update reach nobody. A service
 * that does not run yet gets its new alias at once (Caddy finds its tasks as they become healthy).
 */
export async function pinDoor(ctx: DeployContext): Promise<void> {
  const swarm = swarmOf(ctx);
  const proxy = await swarmFrontDoor(ctx);
  const proxyNets = proxy ? networksOf(proxy) : new Set<string>();
  swarm.pinned = [];
  for (const door of swarm.door ?? []) {
    const file = upstreamFile(ctx.product, door.service);
    const wanted = aliasText(door.alias, door.port);
    if (existsSync(file) && readFileSync(file, 'utf8') === wanted) continue;
    const old = proxy ? taskAddresses(await runningTasks(ctx, door.service), proxyNets, door.port) : [];
    if (old.length > 0) {
      writeDoorFile(ctx, door, renderUpstreams(old));
      swarm.pinned.push(door.service);
    } else writeDoorFile(ctx, door, wanted);
  }
  await reload(ctx, proxy);
}

/** During the follow: the pinned services whose new tasks all run now are switched to those tasks'
 *  addresses, in one reload. Returns the services switched. */
export async function flipReady(ctx: DeployContext, services: Record<string, SwarmService>): Promise<string[]> {
  const swarm = swarmOf(ctx);
  const ready: { door: DoorService; fresh: InspectedTask[] }[] = [];
  for (const door of swarm.door ?? []) {
    if (!swarm.pinned?.includes(door.service)) continue;
    const wanted = services[door.service]?.Spec?.Mode?.Replicated?.Replicas ?? 1;
    // Running is healthy here: Swarm holds a task with a healthcheck in `starting` until it passes.
    const fresh = (await runningTasks(ctx, door.service)).filter((t) => t.Status?.State === 'running' && answersTo(t, door.alias));
    if (fresh.length >= wanted) ready.push({ door, fresh });
  }
  if (ready.length === 0) return [];
  const proxy = await swarmFrontDoor(ctx);
  const proxyNets = proxy ? networksOf(proxy) : new Set<string>();
  for (const { door, fresh } of ready) {
    // By address, as the pin: Swarm reports a task running a moment before its DNS lists the
    // task under the alias (measured: a lookup then went to the outside resolvers, and Caddy
    // held requests ~5 s). The alias comes when the follow ends (unpinDoor).
    const addresses = taskAddresses(fresh, proxyNets, door.port);
    writeDoorFile(ctx, door, addresses.length > 0 ? renderUpstreams(addresses) : aliasText(door.alias, door.port));
  }
  await reload(ctx, proxy);
  const flipped = ready.map(({ door }) => door.service);
  swarm.pinned = (swarm.pinned ?? []).filter((name) => !flipped.includes(name));
  swarm.settling = [...(swarm.settling ?? []), ...flipped];
  return flipped;
}

/** After the follow, whatever happened (Swarm completed or rolled back, berth gave up waiting):
 *  every service still named by addresses (pinned to the old tasks, or switched to the new ones) is
 *  given the alias its spec now carries, so that Caddy follows Swarm's healing between deploys; or
 *  the service name when that spec has none (a release deployed before berth switched the door). */
export async function unpinDoor(ctx: DeployContext, services: Record<string, SwarmService>, only?: string[]): Promise<void> {
  const swarm = swarmOf(ctx);
  const byAddress = [...(swarm.pinned ?? []), ...(swarm.settling ?? [])];
  const left = (swarm.door ?? []).filter((door) => byAddress.includes(door.service) && (!only || only.includes(door.service)));
  if (left.length === 0) return;
  const proxy = await swarmFrontDoor(ctx);
  for (const door of left) {
    const alias = specAlias(services[door.service], door.service);
    // Without one, the service name: Swarm's DNS resolves it to whatever runs, at every dial.
    writeDoorFile(ctx, door, alias ? aliasText(alias, door.port) : renderUpstreams([`${door.service}:${door.port}`]));
  }
  const done = (name: string) => !left.some((door) => door.service === name);
  swarm.pinned = (swarm.pinned ?? []).filter(done);
  swarm.settling = (swarm.settling ?? []).filter(done);
  await reload(ctx, proxy);
}

/** The release alias a service's spec gives its tasks (`<service>-<digest12>`), if any. */
function specAlias(service: SwarmService | undefined, name: string): string | undefined {
  const networks = (service?.Spec?.TaskTemplate as { Networks?: { Aliases?: string[] }[] } | undefined)?.Networks ?? [];
  for (const network of networks) {
    const alias = (network.Aliases ?? []).find((a) => a.startsWith(`${name}-`) && /-[0-9a-f]{12}$/.test(a));
    if (alias) return alias;
  }
  return undefined;
}
