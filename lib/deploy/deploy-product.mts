// A product deploy, under its lock: the checkout and preflight, the plan, the pull and the switch. Undo is
// registered once with the pipeline; the outcome is built in one place, for ok and failed alike.
import type { Product, Settings } from '../config/load.mts';
import { productSettings } from '../config/engine-choice.mts';
import { servicesWith, type DeployContext, type DeployOptions, type Plan } from './context.mts';
import { BerthError, HealthError, UsageError, errorLine } from '../core/errors.mts';
import { runSteps, type Step } from '../core/pipeline.mts';
import type { Runner } from '../core/runner.mts';
import { acquireLock, describeHolder, type Lock } from '../releases/lock.mts';
import { healthCheck } from './steps/health-check.mts';
import { preflight } from './steps/preflight.mts';
import { checkout } from './steps/checkout.mts';
import { pull } from './steps/pull.mts';
import { migrate } from './steps/migrate.mts';
import { repair } from './steps/repair.mts';
import { record } from './steps/record.mts';
import { retire } from './steps/retire.mts';
import { smoke } from './steps/smoke.mts';
import { switchTraffic } from './steps/switch-traffic.mts';
import { undoDeploy } from './undo.mts';
import { engineGoneError, knownVerdict } from './engine-gone.mts';
import { hookResults } from './hooks.mts';
import { upstreamsDir } from './proxy.mts';
import { compare, select } from './steps/select.mts';
import { changes } from './steps/changes.mts';
import { up } from './steps/up.mts';
import { checks } from './steps/checks.mts';
import { beforeSwitch } from './steps/before-switch.mts';
import { afterDeploy } from './steps/after-deploy.mts';
import { afterRollback } from './steps/after-rollback.mts';
import { afterFailure } from './steps/after-failure.mts';
import type { Ui } from '../core/ui.mts';
import { swarmMigrate } from './steps/swarm-migrate.mts';
import { swarmSmoke } from './steps/swarm-smoke.mts';
import { swarmDeploy, swarmPlan, swarmPull, swarmRecord, swarmRender } from './steps/swarm.mts';
import { swarmFollowAndSmoke } from './steps/swarm-follow.mts';

type Steps = Step<DeployContext>[];

/** The release's files in place (the checkout at its commit), then everything that can refuse a
 *  deploy, before any container is touched: berth's own preflight, then the product's checks.
 *  Under the lock: two deploys never move one checkout. */
export const preflightSteps: Steps = [checkout, preflight, checks];
/** What changes: the proxy, routes and leftovers repaired (steps/repair.mts), then each service's
 *  action and strategy. */
export const planSteps: Steps = [repair, select, changes];
export const pullSteps: Steps = [pull];
/** From the image comparison to the old containers gone; the product's beforeSwitch hooks run
 *  once the new containers are healthy, before traffic moves. */
export const switchSteps: Steps = [compare, migrate, up, healthCheck, beforeSwitch, switchTraffic, smoke, retire];
/** The product's after hooks, then the ledger record (which names the hooks that ran). */
export const recordSteps: Steps = [afterDeploy, afterRollback, record];
/** Run once a failed deploy has been undone. */
export const failureSteps: Steps = [afterFailure];

/** The deploy in phases: deploy-all runs each phase across products (every plan, every pull, then the switches). */
export interface DeployPhases {
  preflight: Steps;
  plan: Steps;
  pull: Steps;
  /** The switch, then the ledger record. */
  switch: Steps;
  /** The record alone: a product with nothing to switch whose commit is new still records it. */
  record: Steps;
}

/** On a swarm the same preflight, checks, hooks and ledger; the migration runs as a one-off
 *  container from the new image, Swarm does the rolling update and berth follows it, then
 *  smoke-checks it through the front door (undo deploys the previous release again on a failure). */
const swarmRecordSteps: Steps = [afterDeploy, afterRollback, swarmRecord];
const swarmPhases: DeployPhases = {
  preflight: preflightSteps,
  plan: [swarmPlan],
  pull: [swarmPull],
  switch: [swarmRender, swarmMigrate, swarmDeploy, swarmFollowAndSmoke, swarmSmoke, ...swarmRecordSteps],
  record: swarmRecordSteps,
};

export function deployPhases(engine: Settings['engine'] = 'compose'): DeployPhases {
  if (engine === 'swarm') return swarmPhases;
  return { preflight: preflightSteps, plan: planSteps, pull: pullSteps, switch: [...switchSteps, ...recordSteps], record: recordSteps };
}

/** Every deploy step, in order. */
export const deploySteps: Steps = [...preflightSteps, ...planSteps, ...pullSteps, ...switchSteps, ...recordSteps];

/** The step a deploy failed at: the afterFailure hooks time themselves after it. */
const failedAt = new WeakMap<DeployContext, string>();

/** Undo, then the product's afterFailure hooks, which only ever warn, then the ledger record,
 *  which names them. A failure of the hooks' step itself still leaves the record. */
async function onDeployFailure(ctx: DeployContext, error: unknown, stepId: string): Promise<void> {
  failedAt.set(ctx, stepId);
  const recordFailure = await undoDeploy(ctx, error, stepId);
  try {
    await runSteps(ctx, failureSteps);
  } finally {
    recordFailure();
  }
}

/** Some of the deploy steps, with the deploy's failure handling (undo, ledger record, afterFailure hooks). */
export async function runDeploySteps(ctx: DeployContext, steps: Steps): Promise<void> {
  try {
    await runSteps(ctx, steps, { onFailure: onDeployFailure });
  } catch (error) {
    const step = failedAt.get(ctx);
    const gone = step ? knownVerdict(ctx) : undefined;
    if (step && gone !== undefined) throw engineGoneError(ctx, gone, step, error);
    throw notRestoredError(ctx, error) ?? error;
  }
}

/** A failed swarm deploy undo could not put back: the failed release still serves, which the
 *  error's own fix ("the release was rolled back") would deny. One line: what failed, what berth
 *  tried and why it could not, what runs now, and what the operator does next. */
function notRestoredError(ctx: DeployContext, error: unknown): HealthError | undefined {
  const left = ctx.journal.swarmNotRestored;
  if (!left) return undefined;
  const what = error instanceof BerthError ? error.message : errorLine(error);
  const tried = left.to ? `berth could not put ${left.services.join(', ')} back on ${left.to} (${left.why})` : left.why;
  return new HealthError(
    `${what}; ${tried}, so ${left.services.join(', ')} still ${left.services.length === 1 ? 'runs' : 'run'} ${ctx.options.tag}, the release that failed`,
    {
      fix: `roll back to a release whose images the registry still has (rollback ${ctx.product.name} <tag>; status lists them), or deploy a fixed release`,
      cause: error,
    },
  );
}

export interface DeployResult {
  product: string;
  tag: string;
  result: 'ok' | 'failed' | 'dry-run';
  changed: string[];
  plan: Plan;
  durationsMs: Record<string, number>;
  error?: string;
  /** Product hooks that failed where a failure only warns (afterDeploy, afterRollback, afterFailure). */
  warnings?: string[];
}

/** A finished deploy: its outcome, and for a failed one the error to report and exit with. */
export interface DeployRun {
  outcome: DeployResult & { failedStep?: string };
  error?: unknown;
}

/** The outcome, or the deploy's own error when it failed. */
export function succeeded(run: DeployRun): DeployResult {
  if (run.error !== undefined) throw run.error;
  return run.outcome;
}

/** Checks that need no engine: they fail before anything else happens. */
export function checkDeployOptions(product: Product, options: DeployOptions): void {
  const unknown = (options.only ?? []).filter((s) => !(s in product.services));
  if (unknown.length > 0) {
    throw new UsageError(`unknown service${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} in --only for ${product.name}`, {
      fix: `use ${Object.keys(product.services).join(', ')}`,
    });
  }
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(options.tag)) {
    throw new UsageError(`'${options.tag}' is not a valid image tag`, { fix: 'pass --tag <git sha> (letters, digits, _ . -)' });
  }
}

export function createDeployContext(product: Product, settings: Settings, runner: Runner, ui: Ui, options: DeployOptions): DeployContext {
  return {
    product,
    settings: productSettings(product, settings),
    runner,
    ui,
    options,
    composeEnv: { IMAGE_TAG: options.tag, REGISTRY: product.registry, BERTH_UPSTREAMS: upstreamsDir(product) },
    plan: {},
    get targets() {
      return servicesWith(this, 'replace');
    },
    before: {},
    fresh: {},
    journal: { switched: [] },
    timings: {},
  };
}

/** The product's deploy lock; none under dry-run, which changes nothing. */
export async function takeDeployLock(ctx: DeployContext): Promise<Lock | undefined> {
  if (ctx.options.dryRun) {
    ctx.ui.info(`dry run: would take the lock in ${ctx.product.stateDir}`);
    return undefined;
  }
  return acquireLock(
    ctx.product.stateDir,
    { tag: ctx.options.tag, action: ctx.options.kind ?? 'deploy' },
    {
      wait: ctx.options.wait,
      onWait: (holder) => ctx.ui.info(`waiting for the lock held by ${describeHolder(holder)}`),
      onStale: (holder) => ctx.ui.warn(`took over a stale lock from ${describeHolder(holder)}`),
    },
  );
}

/** The lock, preflight and the plan (deploy-all's first phase). The lock comes back held; when
 *  planning fails it is released here and the error thrown. */
export async function planUnderLock(
  ctx: DeployContext,
  phases: DeployPhases = deployPhases(ctx.settings.engine),
): Promise<Lock | undefined> {
  const lock = await takeDeployLock(ctx);
  try {
    await runDeploySteps(ctx, [...phases.preflight, ...phases.plan]);
    return lock;
  } catch (error) {
    lock?.release();
    throw error;
  }
}

/** The after hooks that failed, one line each, as the ui warned them. */
function hookWarnings(ctx: DeployContext): string[] {
  return hookResults(ctx)
    .filter((hook) => hook.point.startsWith('after') && hook.result !== 'ok')
    .map((hook) => `${hook.point} '${hook.name}' ${hook.result === 'timed-out' ? 'timed out' : `exited ${hook.exitCode}`}`);
}

function errorText(ctx: DeployContext, error: unknown): string {
  const message = errorLine(error);
  return ctx.runner.redact(message);
}

/** What a deploy did, as the summary, the log and the webhook see it. */
export function deployOutcome(ctx: DeployContext, totalMs: number, error?: unknown): DeployRun['outcome'] {
  const result = error !== undefined ? 'failed' : ctx.options.dryRun ? 'dry-run' : 'ok';
  const warnings = hookWarnings(ctx);
  return {
    product: ctx.product.name,
    tag: ctx.options.tag,
    result,
    changed: servicesWith(ctx, 'replace', 'start'),
    plan: ctx.plan,
    durationsMs: { ...ctx.timings, total: Math.round(totalMs) },
    ...(warnings.length > 0 ? { warnings } : {}),
    ...(error !== undefined
      ? { error: errorText(ctx, error), failedStep: failedAt.get(ctx) ?? Object.keys(ctx.timings).at(-1) ?? 'plan' }
      : {}),
  };
}

/** Runs the deploy. Bad options throw before anything happens; any later failure is undone and
 *  comes back as a failed outcome with its error. */
export async function deployProduct(ctx: DeployContext, phases: DeployPhases = deployPhases(ctx.settings.engine)): Promise<DeployRun> {
  checkDeployOptions(ctx.product, ctx.options);
  const started = performance.now();
  try {
    const lock = await takeDeployLock(ctx);
    try {
      await runDeploySteps(ctx, [...phases.preflight, ...phases.plan, ...phases.pull, ...phases.switch]);
    } finally {
      lock?.release();
    }
    return { outcome: deployOutcome(ctx, performance.now() - started) };
  } catch (error) {
    return { outcome: deployOutcome(ctx, performance.now() - started, error), error };
  }
}
