// Rollback to a recorded release: find it in the ledger, prove every image it names is still on
// this engine (by image ID) or in the registry (by digest) before anything changes, re-point the
// release's tag to exactly those images, then switch through the deploy pipeline itself (with
// the rollback's own plan in place of change detection), so a rollback is locked, health-checked,
// recorded and as gapless as any deploy, and ends with the same summary. Local images mean no
// registry call at all: a rollback works while the registry is down.
import { dockerPull, dockerTag } from '../commands/docker.mts';
import type { Product, Settings } from '../config/load.mts';
import type { DeployContext, Plan } from '../deploy/context.mts';
import {
  createDeployContext,
  deployProduct,
  planSteps,
  preflightSteps,
  pullSteps,
  recordSteps,
  switchSteps,
  type DeployPhases,
} from '../deploy/deploy-product.mts';
import { runningConfigs, type RunningConfig } from '../deploy/plan/running-config.mts';
import { strategyLines, withStrategies } from '../deploy/plan/strategy.mts';
import { askV1HashInputs } from '../deploy/steps/up.mts';
import { listContainers, type ContainerState } from '../engine/engine.mts';
import { BerthError, EngineError, UsageError, errorLine } from '../core/errors.mts';
import type { Step } from '../core/pipeline.mts';
import type { Runner } from '../core/runner.mts';
import { checkRelease, createImageLookup, releaseSource, type ImageCheck, type ImageSource } from '../releases/availability.mts';
import {
  describeReleases,
  findRelease,
  previousRelease,
  recordedReleases,
  releaseReach,
  rollbackServices,
  shortTag,
} from '../releases/history.mts';
import { currentRelease, readLedger, type ReleaseRecord } from '../releases/ledger.mts';
import type { Ui } from '../core/ui.mts';
import { finishRun } from '../report/finish.mts';
import { runMeta } from '../report/metrics.mts';
import type { DeployOutcome } from '../report/metrics.mts';

// ---------------------------------------------------------------------------------------------
// The plan: which tag is re-pointed to which image, and whether it is pulled first.

export interface RepointAction {
  service: string;
  /** repo:tag that compose will run. */
  target: string;
  /** What the tag is pointed at: the local image ID, or the digest reference once pulled. */
  source: string;
  /** Digest reference pulled first, when the image is only in the registry. */
  pull?: string;
  /** Pulled if the local image vanished since it was checked (hygiene ran in between). */
  fallback?: string;
  /** The image ID the service must run afterwards, when the ledger knows it. */
  expectedId?: string;
}

export function repointPlan(record: ReleaseRecord, checks: ImageCheck[]): RepointAction[] {
  return checks.map((check) => {
    const target = `${check.repository}:${record.tag}`;
    const expectedId = check.image.id;
    if (check.source === 'local' && check.image.id)
      return {
        service: check.service,
        target,
        source: check.image.id,
        expectedId,
        ...(check.image.digest ? { fallback: check.image.digest } : {}),
      };
    if (check.source === 'registry' && check.image.digest)
      return { service: check.service, target, source: check.image.digest, pull: check.image.digest, expectedId };
    throw new Error(`no image to re-point ${check.service} to`);
  });
}

export function repointCommands(actions: RepointAction[]): string[][] {
  return actions.flatMap((a) => [...(a.pull ? [dockerPull(a.pull)] : []), dockerTag(a.source, a.target)]);
}

/** Runs right after preflight took the lock: the tags move only while no other deploy runs. */
export function repointStep(actions: RepointAction[]): Step<DeployContext> {
  return {
    id: 'repoint',
    title: (ctx) => `re-point ${shortTag(ctx.options.tag)} to the recorded images`,
    skip: (ctx) =>
      ctx.options.dryRun
        ? `dry run: would run ${repointCommands(actions)
            .map((argv) => ctx.runner.format(argv))
            .join(' && ')}`
        : false,
    async run(ctx) {
      const pull = async (action: RepointAction, ref: string) => {
        try {
          await ctx.runner.run(dockerPull(ref), { timeoutMs: 15 * 60_000 });
        } catch (error) {
          throw new EngineError(`cannot pull ${ref} for ${action.service}; no container was changed`, {
            fix: 'check the registry, or roll back to a release whose images are local (scripts/status.mts lists them)',
            cause: error,
          });
        }
      };
      for (const action of actions) {
        if (action.pull) await pull(action, action.pull);
        try {
          await ctx.runner.run(dockerTag(action.source, action.target));
        } catch (error) {
          if (!action.fallback) throw error;
          await pull(action, action.fallback);
          await ctx.runner.run(dockerTag(action.fallback, action.target));
        }
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// What each service does: decided once, from the images the ledger recorded (not from where a
// tag points now, which a dry run does not move), printed once, and run as printed.

const id12 = (id: string) => id.slice(7, 19);

/** What the rollback does to each service of the product, and why. Pure. */
export function rollbackPlan(
  product: Pick<Product, 'services'>,
  tag: string,
  actions: RepointAction[],
  before: Record<string, ContainerState[]>,
  running: Record<string, RunningConfig> = {},
): Plan {
  const release = shortTag(tag);
  const plan: Plan = {};
  for (const [name, service] of Object.entries(product.services)) {
    const containers = before[name] ?? [];
    const action = actions.find((a) => a.service === name);
    const config = running[name];
    if (containers.length === 0) plan[name] = { action: 'start', reason: 'not running' };
    else if (!action && (service.kind === 'http' || service.kind === 'worker'))
      plan[name] = { action: 'keep', reason: `no image recorded in ${release}: keeps running as it is` };
    else if (!action) plan[name] = { action: 'keep', reason: 'a rollback re-points only http and worker services' };
    else if (config?.state === 'differs')
      plan[name] = { action: 'replace', force: true, reason: `${config.containers.join(', ')} runs another config than ${release}'s` };
    else if (!action.expectedId) plan[name] = { action: 'replace', reason: `${release} recorded no image ID: ${action.target}` };
    else if (containers.every((c) => c.imageId === action.expectedId))
      plan[name] = containers.some((c) => c.health === 'unhealthy')
        ? { action: 'replace', reason: `runs ${id12(action.expectedId)}, recorded for ${release}, but unhealthy` }
        : { action: 'keep', reason: `already runs ${id12(action.expectedId)}, recorded for ${release}` };
    else
      plan[name] = {
        action: 'replace',
        reason: `${[...new Set(containers.map((c) => id12(c.imageId)))].join(', ')} -> ${id12(action.expectedId)}, recorded for ${release}`,
      };
  }
  return plan;
}

/** Under the lock, after the checkout and preflight: what runs, whether it runs the release's
 *  config, and so the plan, with each replaced service's strategy. Later steps only carry it out. */
export function rollbackPlanStep(actions: RepointAction[]): Step<DeployContext> {
  return {
    id: 'select',
    title: 'plan the rollback',
    async run(ctx) {
      for (const name of Object.keys(ctx.product.services)) {
        ctx.before[name] = (await listContainers(ctx.runner, ctx.product.projectName, name)).filter((c) => c.running);
      }
      const targets = actions.map((a) => a.service).filter((s) => (ctx.before[s] ?? []).length > 0);
      ctx.running = await runningConfigs(ctx, targets);
      ctx.plan = withStrategies(ctx, rollbackPlan(ctx.product, ctx.options.tag, actions, ctx.before, ctx.running));
      for (const [name, entry] of Object.entries(ctx.plan)) ctx.ui.info(`${name}: ${entry.action} (${entry.reason})`);
      for (const line of strategyLines(ctx)) ctx.ui.info(line);
      // Compose v1's config dumps of what is replaced, as early as the plan allows (up.mts).
      askV1HashInputs(ctx);
    },
  };
}

/** A deploy's phases with the rollback's own plan: the tags re-pointed first under the lock, then
 *  the plan above in place of change detection and the image comparison. */
export function rollbackPhases(actions: RepointAction[]): DeployPhases {
  const decided = new Set(['select', 'changes', 'compare']);
  return {
    preflight: preflightSteps,
    plan: [repointStep(actions), ...planSteps.filter((step) => !decided.has(step.id)), rollbackPlanStep(actions)],
    pull: pullSteps,
    switch: [...switchSteps.filter((step) => !decided.has(step.id)), ...recordSteps],
    record: recordSteps,
  };
}

/** Every step of a rollback, in order. */
export function rollbackSteps(actions: RepointAction[]): Step<DeployContext>[] {
  const phases = rollbackPhases(actions);
  return [...phases.preflight, ...phases.plan, ...phases.pull, ...phases.switch];
}

/** Services whose running image is not the one the rollback asked for (empty when it worked). */
export function unmatched(actions: RepointAction[], running: Record<string, string[]>): string[] {
  return actions
    .filter((a) => a.expectedId)
    .filter((a) => {
      const ids = running[a.service] ?? [];
      return ids.length === 0 || ids.some((id) => id !== a.expectedId);
    })
    .map(
      (a) =>
        `${a.service} runs ${(running[a.service] ?? []).map((id) => id.slice(7, 19)).join(', ') || 'nothing'} instead of ${a.expectedId?.slice(7, 19)}`,
    );
}

// ---------------------------------------------------------------------------------------------

export interface RollbackRequest {
  /** A recorded tag or an unambiguous prefix of one; or previous. */
  sha?: string;
  previous?: boolean;
  dryRun?: boolean;
  wait?: boolean;
  /** The release's images under the config the checkout has now (emergency); default its own config too. */
  imageOnly?: boolean;
}

export interface RollbackResult {
  product: string;
  tag: string;
  from: string | undefined;
  result: 'ok' | 'dry-run' | 'unchanged';
  images: Record<string, { source: ImageSource; id?: string; digest?: string }>;
  changed: string[];
  durationsMs: Record<string, number>;
}

export function chooseTarget(records: ReleaseRecord[], request: RollbackRequest, productName: string): ReleaseRecord {
  if (request.previous) {
    const previous = previousRelease(records);
    if (previous) return previous;
    const releases = recordedReleases(records);
    throw new UsageError(
      `${productName} has no release before ${releases[0] ? shortTag(releases[0].tag) : 'the first one'} to roll back to`,
      {
        fix: releases.length > 0 ? `name one of ${describeReleases(releases)}` : `deploy ${productName} first`,
      },
    );
  }
  if (!request.sha) throw new UsageError('which release?', { fix: 'pass a SHA or --previous' });
  return findRelease(records, request.sha, productName);
}

async function runningIds(runner: Runner, product: Product, services: string[]): Promise<Record<string, string[]>> {
  const ids = await Promise.all(
    services.map(async (s) => (await listContainers(runner, product.projectName, s)).filter((c) => c.running).map((c) => c.imageId)),
  );
  return Object.fromEntries(services.map((s, i) => [s, ids[i] ?? []]));
}

export async function rollbackProduct(
  product: Product,
  settings: Settings,
  runner: Runner,
  ui: Ui,
  request: RollbackRequest,
): Promise<RollbackResult> {
  const started = performance.now();
  const records = readLedger(product.stateDir);
  const target = chooseTarget(records, request, product.name);
  const from = currentRelease(records)?.tag;
  const { services, notRecorded } = rollbackServices(product, target);
  if (services.length === 0) {
    throw new UsageError(`release ${shortTag(target.tag)} of ${product.name} recorded no image for any of its services`, {
      fix: 'roll back to another release',
    });
  }
  for (const service of notRecorded)
    ui.warn(`${service} has no image in ${shortTag(target.tag)} (added later?): it keeps running as it is`);

  if (settings.engine === 'swarm') return rollbackOnSwarm(product, settings, runner, ui, request, { target, from, services, started });

  // Everything up to here only reads: a release that cannot be restored is refused untouched.
  const [lookup, before] = await Promise.all([createImageLookup(runner), runningIds(runner, product, services)]);
  const checks = await checkRelease(lookup, product, target, services);
  const missing = checks.filter((c) => c.source === 'missing');
  if (missing.length > 0) {
    const reach = await releaseReach(lookup, product, records, [target.tag, from]);
    const others = reach.filter((r) => releaseSource(r.checks) !== 'missing').map((r) => r.release);
    throw new EngineError(
      `cannot roll ${product.name} back to ${shortTag(target.tag)}: ${missing.map((c) => `${c.service} ${c.detail}`).join('; ')}; nothing was changed`,
      {
        fix:
          others.length > 0
            ? `roll back to one whose images are still there: ${describeReleases(others)}`
            : 'no other recorded release has its images either; deploy a new build',
      },
    );
  }
  for (const check of checks) ui.info(`${check.service}: ${check.detail}`);
  const actions = repointPlan(target, checks);
  const images = Object.fromEntries(
    checks.map((c) => [
      c.service,
      { source: c.source, ...(c.image.id ? { id: c.image.id } : {}), ...(c.image.digest ? { digest: c.image.digest } : {}) },
    ]),
  );

  if (unmatched(actions, before).length === 0 && actions.every((a) => a.expectedId)) {
    ui.info(`${product.name} already runs the images of ${shortTag(target.tag)}: nothing to do`);
    const durationsMs = { total: Math.round(performance.now() - started) };
    const outcome: DeployOutcome = { product: product.name, tag: target.tag, result: 'ok', changed: [], plan: {}, durationsMs };
    await finishRun([outcome], settings, runMeta('rollback', request.dryRun), ui);
    return { product: product.name, tag: target.tag, from, result: 'unchanged', images, changed: [], durationsMs };
  }

  const ctx = createDeployContext(product, settings, runner, ui, {
    tag: target.tag,
    kind: 'rollback',
    only: services,
    offline: true,
    dryRun: request.dryRun,
    wait: request.wait,
    imageOnly: request.imageOnly,
  });
  const run = await deployProduct(ctx, rollbackPhases(actions));
  let outcome: DeployOutcome = run.outcome;
  let error = run.error;
  if (error === undefined && !request.dryRun) {
    const wrong = unmatched(actions, await runningIds(runner, product, services));
    if (wrong.length > 0) {
      error = new BerthError(`the rollback of ${product.name} to ${shortTag(target.tag)} finished but ${wrong.join('; ')}`, {
        fix: 'see npx zx scripts/status.mts; rerun the rollback',
      });
      outcome = { ...outcome, result: 'failed', error: errorLine(error), failedStep: 'verify' };
    }
  }
  // The whole rollback, the checks before the lock included, as its result says.
  outcome = { ...outcome, durationsMs: { ...outcome.durationsMs, total: Math.round(performance.now() - started) } };
  // The deploy log, the Prometheus textfile and the webhook see a rollback as they see a deploy.
  await finishRun([outcome], settings, runMeta('rollback', request.dryRun), ui);
  if (error !== undefined) throw error;
  return {
    product: product.name,
    tag: target.tag,
    from,
    result: outcome.result === 'dry-run' ? 'dry-run' : 'ok',
    images,
    changed: outcome.changed,
    durationsMs: outcome.durationsMs,
  };
}

/** On a swarm, any recorded release comes back as a deploy of its recorded digests: Swarm's own
 *  `service rollback` only knows the spec before the last one. */
async function rollbackOnSwarm(
  product: Product,
  settings: Settings,
  runner: Runner,
  ui: Ui,
  request: RollbackRequest,
  { target, from, services, started }: { target: ReleaseRecord; from: string | undefined; services: string[]; started: number },
): Promise<RollbackResult> {
  const digests: Record<string, string> = {};
  for (const service of services) {
    const digest = target.services[service]?.digest;
    if (digest) digests[service] = digest;
  }
  const undigested = services.filter((s) => !digests[s]);
  if (undigested.length > 0) {
    throw new UsageError(
      `release ${shortTag(target.tag)} of ${product.name} recorded no registry digest for ${undigested.join(', ')}, so a swarm cannot pull it; nothing was changed`,
      { fix: 'roll back to a release deployed from the registry' },
    );
  }
  const ctx = createDeployContext(product, settings, runner, ui, {
    tag: target.tag,
    kind: 'rollback',
    only: services,
    digests,
    dryRun: request.dryRun,
    wait: request.wait,
    imageOnly: request.imageOnly,
  });
  const run = await deployProduct(ctx);
  const outcome: DeployOutcome = {
    ...run.outcome,
    durationsMs: { ...run.outcome.durationsMs, total: Math.round(performance.now() - started) },
  };
  await finishRun([outcome], settings, runMeta('rollback', request.dryRun), ui);
  if (run.error !== undefined) throw run.error;
  return {
    product: product.name,
    tag: target.tag,
    from,
    result: outcome.result === 'dry-run' ? 'dry-run' : 'ok',
    images: Object.fromEntries(Object.entries(digests).map(([service, digest]) => [service, { source: 'registry' as const, digest }])),
    changed: outcome.changed,
    durationsMs: outcome.durationsMs,
  };
}
