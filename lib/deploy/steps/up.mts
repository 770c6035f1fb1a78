// Starts the new containers. Never `down`, never --force-recreate, never a dependency.
// start-first: the new containers start beside the old ones, which keep serving until the switch:
// berth runs them with docker from the resolved compose config (seconds faster than Compose v1),
// or, when the service uses what that translation does not cover, `up --scale svc=2N
// --no-recreate` does. stop-first: a plain `up` recreates (Compose stops the old one first) for
// what cannot run twice or must not (stateful).
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { composeUp, v1ConfigHash } from '../../commands/compose.mts';
import { NUMBER_LABEL, SERVICE_LABEL } from '../../commands/docker.mts';
import { replicaName } from '../replica/labels.mts';
import { replicaPlan, type ReplicaPlan } from '../replica/translate.mts';
import { found, servicesWith, type DeployContext } from '../context.mts';
import { psContainers } from '../../engine/engine.mts';
import { localImageId } from '../../engine/images.mts';
import { composeServiceHashes, composeV1HashInputs } from '../../engine/compose.mts';
import type { Step } from '../../core/pipeline.mts';
import { proxyService, switchedServices } from '../topology.mts';

/** What `docker ps` says of the project just before `up`: every id, and each service's replica numbers. */
export interface Inventory {
  ids: string[];
  numbers: Record<string, number[]>;
  /** Compose's own config hash per service, where the flavour gives it cheaply (engine/compose.mts). */
  configHashes?: Record<string, string>;
  /** The local image id of each service's target image, once pulled. */
  imageIds?: Record<string, string>;
}

export function inventoryOf(containers: { id: string; labels: Record<string, string> }[]): Inventory {
  const inventory: Inventory = { ids: [], numbers: {} };
  for (const { id, labels } of containers) {
    inventory.ids.push(id);
    const number = labels[NUMBER_LABEL] ?? '';
    if (/^\d+$/.test(number)) (inventory.numbers[labels[SERVICE_LABEL] ?? ''] ??= []).push(Number(number));
  }
  return inventory;
}

export interface DirectStart {
  service: string;
  plan: ReplicaPlan;
  envFile: string;
}

export interface UpPlan {
  /** New replicas berth starts itself with docker (see lib/deploy/replica.mts). */
  direct: DirectStart[];
  /** Compose calls, in order, for everything else. */
  compose: string[][];
  /** Why a start-first service is started by Compose instead: shown to the operator. */
  notes: string[];
}

/** The new replicas of a start-first service as docker commands, or why Compose has to start them. */
export function directStarts(ctx: DeployContext, service: string, count: number, inventory: Inventory): DirectStart[] | string {
  if ((ctx.settings.env.BERTH_START ?? process.env.BERTH_START) === 'compose') return 'BERTH_START=compose';
  const old = ctx.before[service]?.[0];
  const { flavour, compose } = found(ctx);
  const config = compose.services[service];
  if (!config) return 'preflight read no compose config for it';
  if (!old) return 'no running replica to start beside';
  const highest = Math.max(0, ...(inventory.numbers[service] ?? []));
  const projectLabels = Object.fromEntries(Object.entries(old.labels).filter(([k]) => k.startsWith('com.docker.compose.project.')));
  const starts: DirectStart[] = [];
  for (let i = 1; i <= count; i++) {
    const number = highest + i;
    const envFile = join(ctx.product.stateDir, `${replicaName(flavour.name, ctx.product.projectName, service, number)}.replica.env`);
    const result = replicaPlan({
      flavour,
      project: ctx.product.projectName,
      service,
      config,
      top: compose.top,
      number,
      envFile,
      projectLabels,
      configHash: inventory.configHashes?.[service],
      imageId: inventory.imageIds?.[service],
    });
    if (!result.ok) return `compose file uses ${result.unsupported.join(', ')}`;
    // Compose creates missing networks and volumes; docker would make bare ones. Only start
    // beside a replica that already has them all.
    const missingNetwork = result.plan.networks.find((n) => !(n in old.networks));
    if (missingNetwork) return `network ${missingNetwork} is not attached to ${old.name}`;
    const missingVolume = result.plan.volumes.find((v) => !(old.volumes ?? []).includes(v));
    if (missingVolume) return `volume ${missingVolume} is not mounted in ${old.name}`;
    starts.push({ service, plan: result.plan, envFile });
  }
  return starts;
}

/** The services this step starts containers for. */
export function servicesToStart(ctx: DeployContext): string[] {
  const proxy = proxyService(ctx);
  // The proxy starts once the upstream files name healthy containers (the switch step).
  const deferProxy = proxy !== undefined && ctx.plan[proxy]?.action === 'start' && switchedServices(ctx).length > 0;
  return servicesWith(ctx, 'replace', 'start').filter((s) => !(s === proxy && deferProxy));
}

/** What this step runs, in order: what runs, and what dry-run prints. */
export function planUp(ctx: DeployContext, inventory: Inventory): UpPlan {
  const { project } = found(ctx);
  const plain: string[] = [];
  const scale: Record<string, number> = {};
  const direct: DirectStart[] = [];
  const notes: string[] = [];
  for (const service of servicesToStart(ctx)) {
    if (ctx.plan[service]?.action === 'replace' && ctx.plan[service]?.strategy === 'start-first') {
      const count = Math.max(1, ctx.before[service]?.length ?? 1);
      const starts = directStarts(ctx, service, count, inventory);
      if (typeof starts !== 'string') direct.push(...starts);
      else {
        notes.push(`${service}: Compose starts the new container (${starts})`);
        scale[service] = 2 * count;
      }
    } else plain.push(service);
  }
  const compose: string[][] = [];
  if (plain.length) compose.push(composeUp(project, plain, { noDeps: true }));
  if (Object.keys(scale).length) compose.push(composeUp(project, Object.keys(scale), { noDeps: true, noRecreate: true, scale }));
  return { direct, compose, notes };
}

/** The services berth may start itself (start-first replacements). */
function directCandidates(ctx: DeployContext): string[] {
  return servicesToStart(ctx).filter((s) => ctx.plan[s]?.action === 'replace' && ctx.plan[s]?.strategy === 'start-first');
}

const v1Inputs = new WeakMap<DeployContext, Map<string, Promise<string | undefined>>>();

/** Compose v1's config dump of each of `services` (engine/compose.mts composeV1HashInputs), asked once per
 *  service: the pull step asks for every service it pulls, beside the pull, so v1's Python start-up
 *  (~1 s) costs the switch nothing; up asks only for what that missed. Nothing on v2. */
export function v1HashInputs(ctx: DeployContext, services: string[]): Promise<Record<string, string>> {
  const asked = v1Inputs.get(ctx) ?? new Map<string, Promise<string | undefined>>();
  v1Inputs.set(ctx, asked);
  const missing = services.filter((s) => !asked.has(s));
  if (missing.length > 0) {
    const dumps = composeV1HashInputs(ctx.runner, found(ctx).project, missing, ctx.composeEnv).catch(() => ({}) as Record<string, string>);
    for (const s of missing)
      asked.set(
        s,
        dumps.then((d) => d[s]),
      );
  }
  return Promise.all(services.map(async (s) => [s, await asked.get(s)] as const)).then((entries) =>
    Object.fromEntries(entries.filter((e): e is readonly [string, string] => e[1] !== undefined)),
  );
}

/** Once the plan says which services are replaced: v1's dumps of them, asked now so they overlap
 *  the pull (a no-op on v2 and under --dry-run). */
export function askV1HashInputs(ctx: DeployContext): void {
  if (ctx.options.dryRun || ctx.found?.flavour.name !== 'v1') return;
  const replaced = servicesWith(ctx, 'replace').filter((s) => ['http', 'worker'].includes(ctx.product.services[s]?.kind ?? ''));
  if (replaced.length > 0) void v1HashInputs(ctx, replaced);
}

/** The inventory, and for the services berth may start itself, Compose's hash and the image id. */
async function readInventory(ctx: DeployContext): Promise<Inventory> {
  const { project, compose } = found(ctx);
  const candidates = directCandidates(ctx);
  const image = (s: string) => compose.services[s]?.image;
  const [containers, v2Hashes, imageIds, v1Dumps] = await Promise.all([
    psContainers(ctx.runner, { project: ctx.product.projectName, all: true }),
    composeServiceHashes(ctx.runner, project, candidates, ctx.composeEnv),
    Promise.all(
      candidates.map(
        async (s) => [s, typeof image(s) === 'string' ? await localImageId(ctx.runner, image(s) as string) : undefined] as const,
      ),
    ),
    v1HashInputs(ctx, candidates),
  ]);
  const ids = Object.fromEntries(imageIds.filter((e): e is readonly [string, string] => e[1] !== undefined));
  const v1Hashes = Object.fromEntries(
    Object.entries(v1Dumps).flatMap(([s, dump]) => (ids[s] ? [[s, v1ConfigHash(dump, ids[s])] as const] : [])),
  );
  return { ...inventoryOf(containers), configHashes: { ...v2Hashes, ...v1Hashes }, imageIds: ids };
}

export const up: Step<DeployContext> = {
  id: 'up',
  title: 'start new containers',
  async skip(ctx) {
    if (servicesToStart(ctx).length === 0) return 'every service already runs its target image';
    if (!ctx.options.dryRun) return false;
    const { direct, compose, notes } = planUp(ctx, await readInventory(ctx));
    const lines = [
      ...direct.flatMap((d) => d.plan.commands.map((c) => ctx.runner.format(c))),
      ...compose.map((c) => `IMAGE_TAG=${ctx.options.tag} ${ctx.runner.format(c)}`),
    ];
    const envNote = direct.some((d) => d.plan.envFileText) ? ' (each --env-file is written just before, mode 600, and removed after)' : '';
    return [`dry run: would run ${lines.join(' && ')}${envNote}`, ...notes].join('; ');
  },
  async run(ctx) {
    const inventory = await readInventory(ctx);
    const replaced = Object.fromEntries(servicesWith(ctx, 'replace').map((s) => [s, ctx.plan[s]?.strategy ?? 'stop-first'] as const));
    ctx.journal.started = { existingIds: inventory.ids, replaced };
    const { direct, compose, notes } = planUp(ctx, inventory);
    for (const note of notes) ctx.ui.info(note);
    await Promise.all(
      direct.map(async ({ service, plan, envFile }) => {
        ctx.ui.info(`${service}: starting ${plan.name} beside the running one`);
        // The environment holds secrets: a file only berth can read, gone once docker read it.
        if (plan.envFileText) writeFileSync(envFile, plan.envFileText, { mode: 0o600 });
        try {
          for (const argv of plan.commands) await ctx.runner.run(argv, { timeoutMs: 120_000 });
        } finally {
          rmSync(envFile, { force: true });
        }
      }),
    );
    for (const argv of compose) await ctx.runner.run(argv, { env: ctx.composeEnv, timeoutMs: 10 * 60_000 });
  },
};
