// Rollback to a recorded release: find it in the ledger, prove every image it names is still on
// this engine (by image ID) or in the registry (by digest) before anything changes, re-point the
// release's tag to exactly those images, then switch through the deploy pipeline itself (with
// the rollback's own plan in place of change detection), so a rollback is locked, health-checked,
// recorded and as gapless as any deploy, and ends with the same summary. Local images mean no
// registry call at all: a rollback works while the registry is down.
import type { Product, Settings } from '../config/load.mts';
import { engineOf } from '../config/engine-choice.mts';
import { createDeployContext, deployProduct } from '../deploy/deploy-product.mts';
import { listContainers } from '../engine/engine.mts';
import { BerthError, EngineError, UsageError, errorLine } from '../core/errors.mts';
import type { Runner } from '../core/runner.mts';
import { checkRelease, createImageLookup, releaseSource, type ImageSource } from '../releases/availability.mts';
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
import { rollbackPhases, unmatched } from './rollback-plan.mts';
import { repointPlan } from './rollback-repoint.mts';

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

  if (engineOf(product, settings) === 'swarm')
    return rollbackOnSwarm(product, settings, runner, ui, request, { target, from, services, started });

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
