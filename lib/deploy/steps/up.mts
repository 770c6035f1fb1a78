// Starts the new containers. Never `down`, never --force-recreate, never a dependency.
// start-first: the new containers start beside the old ones, which keep serving until the switch:
// berth runs them with docker from the resolved compose config (seconds faster than Compose v1),
// or, when the service uses what that translation does not cover, `up --scale svc=2N
// --no-recreate` does. stop-first: a plain `up` recreates (Compose stops the old one first) for
// what cannot run twice or must not (stateful).
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { composeUp } from '../../commands/compose.mts';
import { NUMBER_LABEL, SERVICE_LABEL } from '../../commands/docker.mts';
import { replicaName, replicaPlan, type ReplicaPlan } from '../replica.mts';
import { servicesWith, type DeployContext, type Strategy } from '../context.mts';
import { psContainers } from '../../engine/engine.mts';
import type { Step } from '../../core/pipeline.mts';
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

/** What `docker ps` says of the project just before `up`: every id, and each service's replica numbers. */
export interface Inventory {
  ids: string[];
  numbers: Record<string, number[]>;
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
  const config = ctx.composeServices[service];
  if (!ctx.flavour || !config) return 'preflight read no compose config for it';
  if (!old) return 'no running replica to start beside';
  const highest = Math.max(0, ...(inventory.numbers[service] ?? []));
  const projectLabels = Object.fromEntries(Object.entries(old.labels).filter(([k]) => k.startsWith('com.docker.compose.project.')));
  const starts: DirectStart[] = [];
  for (let i = 1; i <= count; i++) {
    const number = highest + i;
    const envFile = join(ctx.product.stateDir, `${replicaName(ctx.flavour.name, ctx.product.projectName, service, number)}.replica.env`);
    const result = replicaPlan({ flavour: ctx.flavour, project: ctx.product.projectName, service, config, top: ctx.composeTop, number, envFile, projectLabels });
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
  if (!ctx.project) throw new Error('preflight did not run');
  const plain: string[] = [];
  const scale: Record<string, number> = {};
  const direct: DirectStart[] = [];
  const notes: string[] = [];
  for (const service of servicesToStart(ctx)) {
    if (ctx.plan[service]?.action === 'replace' && ctx.strategy[service] === 'start-first') {
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
  if (plain.length) compose.push(composeUp(ctx.project, plain, { noDeps: true }));
  if (Object.keys(scale).length) compose.push(composeUp(ctx.project, Object.keys(scale), { noDeps: true, noRecreate: true, scale }));
  return { direct, compose, notes };
}

async function readInventory(ctx: DeployContext): Promise<Inventory> {
  return inventoryOf(await psContainers(ctx.runner, { project: ctx.product.projectName, all: true }));
}

export const up: Step<DeployContext> = {
  id: 'up',
  title: 'start new containers',
  async skip(ctx) {
    for (const service of servicesWith(ctx, 'replace')) {
      const { strategy, why } = chooseStrategy(ctx, service);
      ctx.strategy[service] = strategy;
      ctx.ui.info(`${service}: ${strategy} (${why})`);
    }
    if (servicesToStart(ctx).length === 0) return 'every service already runs its target image';
    if (!ctx.options.dryRun) return false;
    const { direct, compose, notes } = planUp(ctx, await readInventory(ctx));
    for (const note of notes) ctx.ui.info(note);
    const lines = [
      ...direct.flatMap((d) => d.plan.commands.map((c) => ctx.runner.format(c))),
      ...compose.map((c) => `IMAGE_TAG=${ctx.options.tag} ${ctx.runner.format(c)}`),
    ];
    const envNote = direct.some((d) => d.plan.envFileText) ? ' (each --env-file is written just before, mode 600, and removed after)' : '';
    return `dry run: would run ${lines.join(' && ')}${envNote}`;
  },
  async run(ctx) {
    const inventory = await readInventory(ctx);
    ctx.existingIds = inventory.ids;
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
