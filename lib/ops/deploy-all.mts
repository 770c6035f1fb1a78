// `deploy-all`: every product's plan first (printed, and in the JSON), then every changed image
// pulled in parallel, then the switches, in parallel where products share nothing. A product with
// nothing changed costs only its plan. One product failing never stops the others; the result
// says whether all went well and the summary says which did not.
import { realpathSync } from 'node:fs';
import { Writable } from 'node:stream';
import { importProduct, listProducts, type Product, type Settings } from '../config/load.mts';
import type { ProductDef } from '../config/types.mts';
import { UsageError, errorLine } from '../core/errors.mts';
import { mapLimit } from '../core/pool.mts';
import { createRunner, type Runner } from '../core/runner.mts';
import { createUi, type Ui } from '../core/ui.mts';
import { servicesWith, type DeployContext, type ServicePlan } from '../deploy/context.mts';
import {
  checkDeployOptions,
  createDeployContext,
  deployOutcome,
  deployPhases,
  planUnderLock,
  runDeploySteps,
} from '../deploy/deploy-product.mts';
import { shortSha } from '../deploy/plan/change-rules.mts';
import { composeContainers, quickPlan, sameRelease } from '../deploy/plan/quick-plan.mts';
import { createDigestLookup, tagDigests, type TagDigests } from '../registry/digest-lookup.mts';
import { registryCredentials } from '../registry/client.mts';
import type { ContainerState } from '../engine/engine.mts';
import { currentRelease, readLedger } from '../releases/ledger.mts';
import type { Lock } from '../releases/lock.mts';
import { failedOutcome, finishRun } from '../report/finish.mts';
import { runMeta, type DeployOutcome } from '../report/metrics.mts';
import { formatTable } from '../report/table.mts';
import { openRelease } from './deploy-one.mts';

/** Products that share a Compose project or a repo directory switch one after another; the groups run in parallel. */
export function switchGroups<T>(items: T[], keys: (item: T) => string[]): T[][] {
  const parent = items.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i] as number)));
  const owner = new Map<string, number>();
  items.forEach((item, i) => {
    for (const key of keys(item)) {
      const j = owner.get(key);
      if (j === undefined) owner.set(key, i);
      else parent[find(i)] = find(j);
    }
  });
  const groups = new Map<number, T[]>();
  items.forEach((item, i) => groups.set(find(i), [...(groups.get(find(i)) ?? []), item]));
  return [...groups.values()];
}

/** Every line a product prints carries its name: products run side by side. */
function productUi(name: string, verbose: boolean): Ui {
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const text = chunk.toString();
      process.stderr.write(
        text
          .split('\n')
          .map((line, i, all) => (i === all.length - 1 && line === '' ? '' : `[${name}] ${line}`))
          .join('\n'),
      );
      done();
    },
  });
  return createUi({ verbose, tty: false, stream });
}

interface ProductRun {
  name: string;
  ui: Ui;
  started: number;
  product?: Product;
  tag?: string;
  ctx?: DeployContext;
  lock?: Lock;
  /** Set when the plan found nothing to do without running the deploy steps. */
  settled?: { plan: Record<string, ServicePlan>; ms: number };
  error?: unknown;
  finished?: number;
}

export interface DeployAllRequest {
  /** Only these products; by default every product but those with deployAll: false. */
  products?: string[];
  all?: boolean;
  wait?: boolean;
  dryRun?: boolean;
  /** Products planned, pulled and switched at once. */
  parallel: number;
}

type RunOptions = Omit<DeployAllRequest, 'products' | 'parallel'>;

/** Undefined when the credentials are half set: each product's preflight refuses that. */
function registryLookup(runner: Runner, settings: Settings): TagDigests | undefined {
  try {
    return tagDigests(createDigestLookup(runner, 5_000, registryCredentials(settings.env)));
  } catch {
    return undefined;
  }
}

/** Once only: a second release could remove a lock another deploy has taken since. */
function releaseLock(run: ProductRun): void {
  run.lock?.release();
  run.lock = undefined;
}

function changedServices(run: ProductRun): string[] {
  return run.ctx ? servicesWith(run.ctx, 'replace', 'start') : [];
}

/** What the products' plans know before any of them runs: every container, read once, and one
 *  registry lookup (a registry that does not answer costs one timeout, not one per product). */
interface Shared {
  snapshot?: ContainerState[];
  ask?: TagDigests;
}

async function planProduct(run: ProductRun, settings: Settings, options: RunOptions, shared: Shared): Promise<void> {
  try {
    const { product, runner, tag } = await openRelease(run.name, settings, run.ui, { dryRun: options.dryRun });
    run.product = product;
    run.tag = tag;
    if (!options.all) {
      const t0 = performance.now();
      const quick = await quickPlan(run.product, run.tag, runner, shared.snapshot, shared.ask);
      if (quick.plan) {
        run.settled = { plan: quick.plan, ms: Math.round(performance.now() - t0) };
        run.finished = performance.now();
        run.ui.info(`nothing changed: ${shortSha(run.tag)} is deployed and every service runs its recorded image`);
        return;
      }
      run.ui.debug(`full plan: ${quick.why}`);
    }
    const ctx = createDeployContext(product, settings, runner, run.ui, {
      tag,
      all: options.all,
      wait: options.wait,
      dryRun: options.dryRun,
    });
    run.ctx = ctx;
    checkDeployOptions(product, ctx.options);
    run.lock = await planUnderLock(ctx);
  } catch (error) {
    run.error = error;
    run.finished = performance.now();
    releaseLock(run);
  }
}

async function applyPhase(run: ProductRun, phase: 'pull' | 'switch'): Promise<void> {
  const ctx = run.ctx;
  if (!ctx || run.error) return;
  try {
    if (changedServices(run).length > 0) {
      await runDeploySteps(ctx, deployPhases(ctx.settings.engine)[phase]);
    } else if (phase === 'switch') {
      // Nothing to switch, but a new commit becomes the recorded release (only when it is new),
      // so that the next run settles this product without Compose.
      // On a swarm the plan compares digests only: a new commit's stack file (environment, deploy
      // settings) reaches Swarm through the stack deploy alone, which changes nothing when the
      // spec is the same; recording the commit without it would record a stack Swarm never saw.
      const recorded = currentRelease(readLedger(ctx.product.stateDir));
      const phases = deployPhases(ctx.settings.engine);
      if (!recorded || !sameRelease(recorded.tag, ctx.options.tag))
        await runDeploySteps(ctx, ctx.settings.engine === 'swarm' ? phases.switch : phases.record);
    }
  } catch (error) {
    run.error = error;
  } finally {
    if (phase === 'switch' || run.error) {
      releaseLock(run);
      run.finished = performance.now();
    }
  }
}

function outcomeOf(run: ProductRun, dryRun: boolean | undefined): DeployOutcome {
  const totalMs = (run.finished ?? performance.now()) - run.started;
  // A product that failed before it had a deploy context (its definition, its repo) has no plan.
  if (run.error && !run.ctx) return failedOutcome(run.name, run.error, totalMs);
  if (run.settled) {
    return {
      product: run.name,
      tag: run.tag ?? '',
      result: dryRun ? 'dry-run' : 'ok',
      changed: [],
      plan: run.settled.plan,
      durationsMs: { plan: run.settled.ms, total: Math.round(totalMs) },
    };
  }
  return deployOutcome(run.ctx as DeployContext, totalMs, run.error);
}

function printPlan(runs: ProductRun[], ui: Ui): void {
  const changing = runs.filter((r) => changedServices(r).length > 0).length;
  ui.info(`plan: ${runs.length} product${runs.length === 1 ? '' : 's'}, ${changing} with changes`);
  for (const run of runs) {
    if (run.error) {
      ui.info(`${run.name}: plan FAILED: ${errorLine(run.error)}`);
      continue;
    }
    const plan = run.settled?.plan ?? run.ctx?.plan ?? {};
    const changed = run.settled ? [] : changedServices(run);
    ui.info(`${run.name} ${shortSha(run.tag ?? '')}: ${changed.length ? `${changed.join(', ')} to deploy` : 'nothing to do'}`);
    const rows = Object.entries(plan).map(([service, p]) => [service, p.action, p.reason]);
    for (const line of formatTable(rows, { minWidths: [1, 'replace'.length], indent: '  ' })) ui.info(line);
  }
}

/** The products a run deploys: the ones asked for (all known), else every product that does not opt out. */
export async function chooseProducts(settings: Settings, asked: string[] | undefined): Promise<string[]> {
  const known = listProducts(settings);
  if (asked) {
    const unknown = asked.filter((n) => !known.includes(n));
    if (unknown.length) throw new UsageError(`unknown product ${unknown.join(', ')}`, { fix: `use ${known.join(', ')}` });
    return asked;
  }
  const names: string[] = [];
  for (const name of known) {
    const { value } = await importProduct(name, settings);
    if ((value as ProductDef | undefined)?.deployAll !== false) names.push(name);
  }
  return names;
}

/** Keys that make products switch one after another: the same Compose project or the same repo. */
function sharedKeys(run: ProductRun): string[] {
  const p = run.product as Product;
  let dir = p.repoDir;
  try {
    dir = realpathSync(dir);
  } catch {
    // A repo that vanished fails in its own steps; here it only needs a key.
  }
  return [`project:${p.projectName}`, `repo:${dir}`];
}

export interface DeployAllReport {
  ok: boolean;
  dryRun: boolean;
  durationMs: number;
  products: DeployOutcome[];
}

export async function deployAll(request: DeployAllRequest, settings: Settings, ui: Ui): Promise<DeployAllReport> {
  const names = await chooseProducts(settings, request.products);
  const options: RunOptions = { all: request.all, wait: request.wait, dryRun: request.dryRun };
  const meta = runMeta('deploy-all', options.dryRun);
  const started = performance.now();
  const runs: ProductRun[] = names.map((name) => ({ name, ui: productUi(name, ui.verbose), started }));

  try {
    // One read of every container serves every product's plan; without an engine each product's
    // own preflight says so.
    const reader = createRunner({ ui });
    const snapshot = options.all ? undefined : await composeContainers(reader).catch(() => undefined);
    const ask = options.all ? undefined : registryLookup(reader, settings);
    await mapLimit(runs, request.parallel, (run) => planProduct(run, settings, options, { snapshot, ask }));
    printPlan(runs, ui);
    const changing = runs.filter((r) => !r.error && r.ctx);
    await mapLimit(changing, request.parallel, (run) => applyPhase(run, 'pull'));
    await mapLimit(switchGroups(changing, sharedKeys), request.parallel, async (group) => {
      for (const run of group) await applyPhase(run, 'switch');
    });
  } finally {
    for (const run of runs) releaseLock(run);
  }

  for (const run of runs) run.finished ??= performance.now();
  const outcomes = runs.map((run) => outcomeOf(run, options.dryRun));
  await finishRun(outcomes, settings, meta, ui);
  const ok = outcomes.every((o) => o.result !== 'failed');
  return { ok, dryRun: Boolean(options.dryRun), durationMs: Math.round(performance.now() - started), products: outcomes };
}
