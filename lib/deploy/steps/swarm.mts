// The deploy steps of a product on a swarm (BERTH_ENGINE=swarm). Preflight, checks, the lock, the
// hooks and the ledger are the compose path's own; these replace its plan, pull and switch: pin
// each image by digest, render the stack file, `docker stack deploy` it, and follow every service
// Swarm gave a new spec until its rolling update completes or Swarm rolls it back.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { YAML } from 'zx';
import { composeConfig as composeConfigArgv } from '../../commands/compose.mts';
import { dockerPull } from '../../commands/docker.mts';
import { stackDeploy, stackDeployHelp, swarmState } from '../../commands/stack.mts';
import { ConfigError, EngineError } from '../../core/errors.mts';
import { runSteps, type Step } from '../../core/pipeline.mts';
import type { Runner } from '../../core/runner.mts';
import { writeFileAtomic } from '../../releases/atomic.mts';
import { appendRelease, type ReleaseRecord, type ServiceImage } from '../../releases/ledger.mts';
import { createDigestLookup } from '../../registry/digest-lookup.mts';
import { imageHasHealthcheck, localImageId } from '../../engine/images.mts';
import type { EngineInfo } from '../../engine/engine.mts';
import { readyNodeCount } from '../../engine/swarm.mts';
import { found, servicesWith, type DeployContext, type SwarmDeploy } from '../context.mts';
import { renderStack, withoutEnvironmentValues, type ComposeConfig } from '../swarm/stack-file.mts';
import { digestReference, specImage, type SwarmService } from '../swarm/updates.mts';
import { releaseRecord } from './record.mts';
import { swarmFollow } from './swarm-follow.mts';
import { inspectStack, swarmOf } from '../swarm/stack-state.mts';
import { doorServices } from '../swarm/door.mts';
import { pinDoor, unpinDoor } from '../swarm/door-switch.mts';

/** How long Swarm watches a new task before the update counts as good (update_config.monitor). */
export const SWARM_MONITOR_SECONDS = 3;

function composeConfig(ctx: DeployContext): ComposeConfig {
  return (YAML.parse(found(ctx).compose.rendered ?? '') ?? {}) as ComposeConfig;
}

const ownImage = (ctx: DeployContext, service: string) => ['http', 'worker'].includes(ctx.product.services[service]?.kind ?? '');

/** Every stack service's image as Swarm runs it now: what the ledger records. */
export async function swarmImages(ctx: DeployContext): Promise<Record<string, ServiceImage>> {
  const images: Record<string, ServiceImage> = {};
  // Also asked when a deploy failed, to record it: a swarm that cannot answer records no images
  // rather than hiding why the deploy failed.
  const services = await inspectStack(ctx).catch(() => ({}) as Record<string, SwarmService>);
  for (const [name, service] of Object.entries(services)) {
    const image = specImage(service);
    if (image) images[name] = { image: image.image, ...(image.digest ? { digest: image.digest } : {}) };
  }
  return images;
}

/** Preflight's question on a swarm: berth deploys stacks through a manager only. */
export async function checkSwarmManager(runner: Runner, known?: EngineInfo['swarm']): Promise<void> {
  const [state, control] = known ? [known.state, String(known.manager)] : (await runner.read(swarmState())).trim().split(' ');
  if (state !== 'active' || control !== 'true') {
    throw new EngineError(
      `BERTH_ENGINE=swarm but this engine is ${state === 'active' ? 'a swarm worker' : `not in a swarm (${state})`}; nothing was changed`,
      {
        fix: state === 'active' ? 'run berth on a manager node' : 'run docker swarm init (or join one), or unset BERTH_ENGINE',
      },
    );
  }
}

/** Each service's image pinned by digest, and what changes. */
export const swarmPlan: Step<DeployContext> = {
  id: 'plan',
  title: (ctx) => `plan ${ctx.product.name} on the swarm`,
  async run(ctx) {
    const running = await inspectStack(ctx);
    const lookup = createDigestLookup(ctx.runner);
    const only = ctx.options.only;
    const images: Record<string, string> = {};
    const before: SwarmDeploy['before'] = {};
    for (const [name, service] of Object.entries(running)) {
      before[name] = { spec: JSON.stringify(service.Spec ?? {}), image: specImage(service)?.image };
    }
    const view = found(ctx).compose.services;
    for (const name of Object.keys(view)) {
      const now = running[name] ? specImage(running[name]) : undefined;
      const selected = !only || only.includes(name);
      if (!ownImage(ctx, name)) {
        ctx.plan[name] = now
          ? { action: 'keep', reason: 'not berth-built: Swarm updates it only if its spec changed' }
          : { action: 'start', reason: 'not running' };
        continue;
      }
      if (!selected && now) {
        images[name] = now.image;
        ctx.plan[name] = { action: 'keep', reason: 'not in --only' };
        continue;
      }
      const repository = ctx.product.services[name]?.repository ?? '';
      let digestRef = ctx.options.digests?.[name];
      if (!digestRef) {
        const answer = await lookup(`${repository}:${ctx.options.tag}`);
        if (!answer.digest) {
          throw new EngineError(`cannot pin ${repository}:${ctx.options.tag} by digest (${answer.detail}); nothing was changed`, {
            fix: 'push the release first, or check the registry',
          });
        }
        digestRef = `${repository}@${answer.digest}`;
      }
      const digest = digestRef.slice(digestRef.indexOf('@') + 1);
      images[name] = `${repository}:${ctx.options.tag}@${digest}`;
      const strategy = ctx.product.services[name]?.kind === 'stateful' ? 'stop-first' : 'start-first';
      if (!now) ctx.plan[name] = { action: 'start', reason: 'not running' };
      else if (now.digest === digestRef && !ctx.options.all)
        ctx.plan[name] = { action: 'keep', reason: `runs ${digest.slice(7, 19)} already` };
      else ctx.plan[name] = { action: 'replace', reason: `new image ${digest.slice(7, 19)}`, strategy };
    }
    ctx.swarm = { before, images };
    for (const [name, plan] of Object.entries(ctx.plan)) ctx.ui.detail([`${name}: ${plan.action} (${plan.reason})`]);
  },
};

/** The manager pulls the new images itself: their HEALTHCHECK is read from them, and on a one-node
 *  swarm the task starts without waiting for a pull. An image pinned by a digest this engine has
 *  already is that image: asking the registry again (~0.2 s) would only delay the switch. */
export const swarmPull: Step<DeployContext> = {
  id: 'pull',
  title: 'pull images on the manager',
  skip(ctx) {
    const refs = servicesWith(ctx, 'replace', 'start').flatMap((s) => swarmOf(ctx).images[s] ?? []);
    if (refs.length === 0) return 'nothing to pull';
    if (ctx.options.dryRun) return `dry run: would run ${refs.map((r) => ctx.runner.format(dockerPull(r))).join(' & ')}`;
    return false;
  },
  async run(ctx) {
    const refs = servicesWith(ctx, 'replace', 'start').flatMap((s) => swarmOf(ctx).images[s] ?? []);
    await Promise.all(
      refs.map(async (ref) => {
        const pinned = digestReference(ref);
        if (pinned && (await localImageId(ctx.runner, pinned))) ctx.ui.debug(`${pinned} is here already`);
        else await ctx.runner.run(dockerPull(ref));
      }),
    );
  },
};

/** The stack file: refused here, before the swarm is touched, when a service cannot run on it. */
export const swarmRender: Step<DeployContext> = {
  id: 'render',
  title: 'render the stack file',
  async run(ctx) {
    const swarm = swarmOf(ctx);
    const config = composeConfig(ctx);
    const withChecks = new Set<string>();
    let known = true;
    for (const [name, ref] of Object.entries(swarm.images)) {
      const hasCheck = await imageHasHealthcheck(ctx.runner, ref);
      if (hasCheck === undefined) known = false;
      else if (hasCheck) withChecks.add(name);
    }
    swarm.door = doorServices(ctx.product, found(ctx).compose.services, swarm.images);
    const rendered = renderStack({
      product: ctx.product,
      config,
      images: swarm.images,
      aliases: Object.fromEntries(swarm.door.map((door) => [door.service, door.alias])),
      // In a dry run the images may not be here yet; the real deploy pulls them first and checks.
      imageHealthchecks: known || !ctx.options.dryRun ? withChecks : undefined,
      monitorSeconds: SWARM_MONITOR_SECONDS,
      // Read-only, so a dry run asks too; a swarm that cannot say refuses nothing here.
      nodes: await readyNodeCount(ctx.runner).catch(() => undefined),
    });
    for (const note of rendered.notes) ctx.ui.info(note);
    if (rendered.errors.length > 0) {
      throw new ConfigError(`${ctx.product.name} cannot run on a swarm as it is: ${rendered.errors.join('; ')}`, {
        details: rendered.errors,
      });
    }
    swarm.text = YAML.stringify(rendered.stack);
    swarm.file = join(ctx.product.stateDir, 'stack.yaml');
    if (ctx.options.dryRun) {
      const shown = ctx.runner.redact(YAML.stringify(withoutEnvironmentValues(rendered.stack)));
      ctx.ui.result([`# ${swarm.file} (environment values hidden)`, ...shown.trimEnd().split('\n')]);
    } else {
      mkdirSync(ctx.product.stateDir, { recursive: true });
      // It holds the resolved environment, secrets included: for berth's user alone.
      writeFileAtomic(swarm.file, swarm.text, { mode: 0o600 });
    }
  },
};

async function deployArgv(ctx: DeployContext, file: string): Promise<string[]> {
  const help = await ctx.runner.probe(stackDeployHelp());
  return stackDeploy(file, ctx.product.projectName, { detachFlag: /--detach/.test(help.stdout) });
}

export const swarmDeploy: Step<DeployContext> = {
  id: 'stack-deploy',
  title: (ctx) => `docker stack deploy ${ctx.product.projectName}`,
  async skip(ctx) {
    if (!ctx.options.dryRun) return false;
    const door = (swarmOf(ctx).door ?? []).map(
      (d) => `${d.service} pinned to its running tasks, switched to the new ones once they run, then named by ${d.alias}`,
    );
    const run = `dry run: would run ${ctx.runner.format(await deployArgv(ctx, swarmOf(ctx).file ?? 'stack.yaml'))}`;
    return door.length > 0 ? `${run}; the front door: ${door.join(', ')}` : run;
  },
  async run(ctx) {
    const swarm = swarmOf(ctx);
    // Asked while the door is pinned: every step before the stack deploy delays the switch.
    const argv = deployArgv(ctx, swarm.file ?? '');
    argv.catch(() => undefined); // awaited below, unless pinning fails first
    if (swarm.door?.length) await pinDoor(ctx);
    swarm.startedAt = Date.now();
    try {
      await ctx.runner.run(await argv);
    } catch (error) {
      // Swarm changed nothing: the door goes back to what runs.
      await unpinDoor(ctx, await inspectStack(ctx)).catch(() => {});
      throw error;
    }
    const after = await inspectStack(ctx);
    swarm.changed = Object.entries(after)
      .filter(([name, service]) => swarm.before[name]?.spec !== JSON.stringify(service.Spec ?? {}))
      .map(([name]) => name);
    // The plan said what berth expected; Swarm's spec versions say what it did.
    for (const name of swarm.changed) {
      const plan = ctx.plan[name];
      if (plan && plan.action === 'keep') ctx.plan[name] = { action: 'replace', reason: 'its spec changed', strategy: 'start-first' };
    }
    // A pinned service Swarm did not update keeps its tasks: the door names them as before.
    const unchanged = (swarm.pinned ?? []).filter((name) => !swarm.changed?.includes(name));
    if (unchanged.length > 0) await unpinDoor(ctx, after, unchanged);
    for (const [name, plan] of Object.entries(ctx.plan)) {
      if (plan.action === 'replace' && !swarm.changed.includes(name))
        ctx.plan[name] = { action: 'keep', reason: 'Swarm found its spec unchanged' };
    }
  },
};

/** The release in the ledger, with every service's image as Swarm runs it. */
export const swarmRecord: Step<DeployContext> = {
  id: 'record',
  title: 'record release',
  skip: (ctx) => (ctx.options.dryRun ? `dry run: would append ${ctx.options.tag} to ${ctx.product.stateDir}/releases.jsonl` : false),
  async run(ctx) {
    appendRelease(ctx.product.stateDir, releaseRecord(ctx, 'ok', await swarmImages(ctx)));
  },
};

/** Undo on a swarm once Swarm completed updates berth then failed (a smoke check, the monitor
 *  window): the previous release's recorded digests deployed again, the way a rollback to any
 *  recorded release is (options.digests), from the config of the checkout undo restored. The
 *  services put back; none when the previous release recorded no digest for them. Throws when
 *  they cannot be put back (undo then says they still run the failed release). */
export async function restoreOnSwarm(ctx: DeployContext, previous: ReleaseRecord, services: string[]): Promise<string[]> {
  const digests: Record<string, string> = {};
  for (const name of services) {
    const digest = previous.services[name]?.digest;
    if (digest) digests[name] = digest;
  }
  const back = Object.keys(digests);
  if (back.length === 0) return [];
  const composeEnv = { ...ctx.composeEnv, IMAGE_TAG: previous.tag };
  const rendered = await ctx.runner.read(composeConfigArgv(found(ctx).project), { env: composeEnv });
  const view = (YAML.parse(rendered) ?? {}) as ComposeConfig;
  const restore: DeployContext = {
    ...ctx,
    options: { ...ctx.options, tag: previous.tag, only: back, digests, all: false },
    composeEnv,
    found: { ...found(ctx), compose: { ...found(ctx).compose, rendered, services: view.services ?? {} } },
    plan: {},
    swarm: undefined,
    journal: { switched: [] },
    timings: {},
    get targets() {
      return servicesWith(this, 'replace');
    },
  };
  // Pulled first, as a deploy does: an image the registry and this engine no longer have fails
  // here, before Swarm is touched, with the registry's answer rather than a render refusal.
  await runSteps(restore, [swarmPlan, swarmPull, swarmRender, swarmDeploy, swarmFollow]);
  return back;
}
