// `deploy-all`: every product's plan first (printed, and in the JSON), then every changed image
// pulled in parallel, then the switches, in parallel where products share nothing. A product with
// nothing changed costs only its plan. One product failing never stops the others; the exit code
// says whether all went well and the summary says which did not.
import { realpathSync } from 'node:fs';
import { Writable } from 'node:stream';
import { helpAsked, parse } from '../core/cli.mts';
import { importProduct, listProducts, loadProduct, loadSettings, type Product, type Settings } from '../config/load.mts';
import type { ProductDef } from '../config/types.mts';
import { servicesWith, type DeployContext, type ServicePlan } from '../deploy/context.mts';
import { checkDeployOptions, createDeployContext, deployPhases, planUnderLock, runDeploySteps } from '../deploy/deploy-product.mts';
import { UsageError } from '../core/errors.mts';
import { runMeta, type DeployOutcome } from '../report/metrics.mts';
import { errorLine, failedOutcome, finishRun } from '../report/finish.mts';
import { createRunner } from '../core/runner.mts';
import { currentRelease, readLedger } from '../releases/ledger.mts';
import type { Lock } from '../releases/lock.mts';
import { composeContainers, quickPlan, sameRelease } from '../deploy/plan/quick-plan.mts';
import { shortSha } from '../deploy/plan/change-rules.mts';
import type { ContainerState } from '../engine/engine.mts';
import { createUi, type Ui } from '../core/ui.mts';
import { defaultTag } from './deploy.mts';

export const DEPLOY_ALL_USAGE = `usage: npx zx scripts/deploy-all.mts [options]

Deploys every product (products/*.mts, except those with deployAll: false), each at the HEAD of
its repo, in three phases:
  1. plan: for every product, which services changed since the release the ledger records as
     deployed, each with its reason; printed before anything changes (in the JSON with --json).
     A product whose HEAD is that release and whose containers run its recorded images is
     settled without Compose at all.
  2. pull: the changed images of every product, --parallel products at a time.
  3. switch: each product under its own lock, in parallel unless products share a Compose
     project or a repo directory.
A product that fails does not stop the others. Exit 0 when every product is ok or unchanged,
1 when any failed; the summary table names each product's result and the time of every step.

How a service counts as changed (see also deploy --help): a file under its build.context,
build.dockerfile or build.paths changed (git diff <deployed sha>..<HEAD>); or its resolved compose
config changed (compose files, .env and env_file files, compared as \`config\` output, not text);
or its container does not run the image the last release recorded. Services with no build
paths, and tags that are not commits, fall back to comparing image ids. Env files that git does
not track are invisible to git: berth warns when one changed, and --all applies it.

options:
  --products a,b   only these products
  --all            every service of every product, changed or not: pulled and handed to
                   compose even when its image is the same (applies untracked env edits)
  --parallel N     products planned, pulled and switched at once (default 4)
  --wait           wait for other deploys' locks instead of failing
  --dry-run        print every plan and the exact commands; change nothing
  --json           print plans and results as one JSON document on stdout
  --verbose, -v    show every command
  --help, -h       this text

environment (a .env beside berth is read too):
  BERTH_STATE_DIR            ledgers, locks, and the deploy log (default /var/lib/berth as root)
  BERTH_DEPLOY_LOG           JSON-lines log, one record per product deploy with per-step
                             durations (default \$BERTH_STATE_DIR/deploys.jsonl; off disables)
  BERTH_PROMETHEUS_TEXTFILE  a .prom file for node_exporter's textfile collector: last deploy
                             duration, result, timestamp, changed services and step times per
                             product (written atomically)
  BERTH_WEBHOOK_URL          Slack-compatible webhook: one message per run that deployed or
                             failed something (product, release, services changed, duration,
                             who ran it, the failing step's message). A webhook that is down is
                             a warning, never a failed deploy. BERTH_WEBHOOK_TIMEOUT_MS (5000).
  BERTH_REGISTRY, BERTH_WORKSPACE, BERTH_PRODUCTS_DIR, BERTH_COMPOSE=v1|v2, BERTH_WHO`;

const FLAGS = {
  products: { type: 'string' },
  all: { type: 'boolean' },
  parallel: { type: 'string' },
  wait: { type: 'boolean' },
} as const;

/** Runs `work` over items with at most `limit` at once; results keep the input order. */
export async function mapLimit<T, R>(items: T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

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

interface RunOptions {
  all?: boolean;
  wait?: boolean;
  dryRun?: boolean;
}

/** Once only: a second release could remove a lock another deploy has taken since. */
function releaseLock(run: ProductRun): void {
  run.lock?.release();
  run.lock = undefined;
}

function changedServices(run: ProductRun): string[] {
  return run.ctx ? servicesWith(run.ctx, 'replace', 'start') : [];
}

async function planProduct(run: ProductRun, settings: Settings, options: RunOptions, snapshot?: ContainerState[]): Promise<void> {
  try {
    run.product = await loadProduct(run.name, settings);
    const runner = createRunner({ dryRun: options.dryRun, ui: run.ui });
    run.tag = await defaultTag(runner, run.product);
    if (!options.all) {
      const t0 = performance.now();
      const quick = await quickPlan(run.product, run.tag, runner, snapshot);
      if (quick.plan) {
        run.settled = { plan: quick.plan, ms: Math.round(performance.now() - t0) };
        run.finished = performance.now();
        run.ui.info(`nothing changed: ${shortSha(run.tag)} is deployed and every service runs its recorded image`);
        return;
      }
      run.ui.debug(`full plan: ${quick.why}`);
    }
    const ctx = createDeployContext(run.product, settings, runner, run.ui, { tag: run.tag, all: options.all, wait: options.wait, dryRun: options.dryRun });
    run.ctx = ctx;
    checkDeployOptions(run.product, ctx.options);
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
      await runDeploySteps(ctx, deployPhases()[phase]);
    } else if (phase === 'switch') {
      // Nothing to switch, but a new commit becomes the recorded release (only when it is new),
      // so that the next run settles this product without Compose.
      const recorded = currentRelease(readLedger(ctx.product.stateDir));
      if (!recorded || !sameRelease(recorded.tag, ctx.options.tag)) await runDeploySteps(ctx, deployPhases().record);
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
  if (run.error) return failedOutcome(run.name, run.ctx, run.error, totalMs);
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
  const ctx = run.ctx as DeployContext;
  return {
    product: run.name,
    tag: ctx.options.tag,
    result: dryRun ? 'dry-run' : 'ok',
    changed: changedServices(run),
    plan: ctx.plan,
    durationsMs: { ...ctx.timings, total: Math.round(totalMs) },
  };
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
    const width = Math.max(...Object.keys(plan).map((s) => s.length), 1);
    for (const [service, p] of Object.entries(plan)) ui.info(`  ${service.padEnd(width)}  ${p.action.padEnd(7)}  ${p.reason}`);
  }
}

export async function deployAllCli(argv: string[], ui: Ui): Promise<number> {
  const { values, positionals } = parse(argv, FLAGS, DEPLOY_ALL_USAGE);
  if (helpAsked(values, DEPLOY_ALL_USAGE)) return 0;
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`, { fix: 'use --products a,b to choose products' });
  const parallel = values.parallel === undefined ? 4 : Number(values.parallel);
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > 32) {
    throw new UsageError(`--parallel ${values.parallel} is not a number from 1 to 32`, { fix: 'pass --parallel 4, say' });
  }
  const settings = loadSettings();
  const known = listProducts(settings);
  let names = values.products?.split(',').map((n) => n.trim()).filter(Boolean);
  if (names) {
    const unknown = names.filter((n) => !known.includes(n));
    if (unknown.length) throw new UsageError(`unknown product ${unknown.join(', ')}`, { fix: `use ${known.join(', ')}` });
  } else {
    names = [];
    for (const name of known) {
      const { value } = await importProduct(name, settings);
      if ((value as ProductDef | undefined)?.deployAll !== false) names.push(name);
    }
  }
  const options: RunOptions = { all: values.all, wait: values.wait, dryRun: values['dry-run'] };
  const meta = runMeta('deploy-all', options.dryRun);
  const started = performance.now();
  const runs: ProductRun[] = names.map((name) => ({ name, ui: productUi(name, ui.verbose), started }));

  try {
    // One read of every container serves every product's plan; without an engine each product's
    // own preflight says so.
    const snapshot = options.all ? undefined : await composeContainers(createRunner({ ui })).catch(() => undefined);
    await mapLimit(runs, parallel, (run) => planProduct(run, settings, options, snapshot));
    printPlan(runs, ui);
    const changing = runs.filter((r) => !r.error && r.ctx);
    await mapLimit(changing, parallel, (run) => applyPhase(run, 'pull'));
    const groups = switchGroups(changing, (run) => {
      const p = run.product as Product;
      let dir = p.repoDir;
      try {
        dir = realpathSync(dir);
      } catch {
        // A repo that vanished fails in its own steps; here it only needs a key.
      }
      return [`project:${p.projectName}`, `repo:${dir}`];
    });
    await mapLimit(groups, parallel, async (group) => {
      for (const run of group) await applyPhase(run, 'switch');
    });
  } finally {
    for (const run of runs) releaseLock(run);
  }

  for (const run of runs) run.finished ??= performance.now();
  const outcomes = runs.map((run) => outcomeOf(run, options.dryRun));
  const ok = outcomes.every((o) => o.result !== 'failed');
  await finishRun(outcomes, settings, meta, ui);
  if (values.json) ui.json({ ok, dryRun: Boolean(options.dryRun), durationMs: Math.round(performance.now() - started), products: outcomes });
  return ok ? 0 : 1;
}
