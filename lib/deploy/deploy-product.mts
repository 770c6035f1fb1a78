// A product deploy: the ordered steps, the failure record, the lock released whatever happens.
import type { Product, Settings } from '../config/load.mts';
import { servicesWith, type DeployContext, type DeployOptions } from './context.mts';
import { UsageError } from '../core/errors.mts';
import { runSteps, type Step } from '../core/pipeline.mts';
import type { Runner } from '../core/runner.mts';
import { healthCheck } from './steps/health-check.mts';
import { preflight } from './steps/preflight.mts';
import { pull } from './steps/pull.mts';
import { migrate } from './steps/migrate.mts';
import { reconcile } from './steps/reconcile.mts';
import { record } from './steps/record.mts';
import { retire } from './steps/retire.mts';
import { smoke } from './steps/smoke.mts';
import { switchTraffic } from './steps/switch-traffic.mts';
import { undoDeploy } from './undo.mts';
import { upstreamsDir } from './proxy.mts';
import { compare, select } from './steps/select.mts';
import { changes } from './steps/changes.mts';
import { up } from './steps/up.mts';
import type { Ui } from '../core/ui.mts';

export const deploySteps: Step<DeployContext>[] = [preflight, reconcile, select, changes, pull, compare, migrate, up, healthCheck, switchTraffic, smoke, retire, record];

/** deploy-all runs the steps in phases across products: every plan first (up to the pull), then
 *  every pull, then the switches (from the image comparison on). */
export function deployPhases(steps: Step<DeployContext>[] = deploySteps): Record<'plan' | 'pull' | 'switch', Step<DeployContext>[]> {
  const pullAt = steps.findIndex((s) => s.id === 'pull');
  const switchAt = steps.findIndex((s) => s.id === 'compare');
  if (pullAt < 0 || switchAt < pullAt) throw new Error('deploy steps lack pull or compare');
  return { plan: steps.slice(0, pullAt), pull: steps.slice(pullAt, switchAt), switch: steps.slice(switchAt) };
}

/** Some of the deploy steps, with deployProduct's failure handling (undo, ledger record). */
export function runDeploySteps(ctx: DeployContext, steps: Step<DeployContext>[]): Promise<void> {
  return runSteps(ctx, steps, { onFailure: undoDeploy });
}

export interface DeployResult {
  product: string;
  tag: string;
  result: 'ok' | 'failed' | 'dry-run';
  changed: string[];
  plan: DeployContext['plan'];
  durationsMs: Record<string, number>;
  error?: string;
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
    settings,
    runner,
    ui,
    options,
    composeEnv: { IMAGE_TAG: options.tag, REGISTRY: product.registry, BERTH_UPSTREAMS: upstreamsDir(product) },
    targets: [],
    plan: {},
    before: {},
    after: {},
    images: {},
    timings: {},
    composeServices: {},
    composeTop: {},
    strategy: {},
    upstreamsBefore: {},
    switched: [],
    existingIds: [],
    fresh: {},
  };
}

export async function deployProduct(ctx: DeployContext, steps: Step<DeployContext>[] = deploySteps): Promise<DeployResult> {
  checkDeployOptions(ctx.product, ctx.options);
  const started = performance.now();
  const result = (outcome: DeployResult['result'], error?: string): DeployResult => ({
    product: ctx.product.name,
    tag: ctx.options.tag,
    result: outcome,
    changed: servicesWith(ctx, 'replace', 'start'),
    plan: ctx.plan,
    durationsMs: { ...ctx.timings, total: Math.round(performance.now() - started) },
    ...(error ? { error } : {}),
  });
  try {
    await runDeploySteps(ctx, steps);
    return result(ctx.options.dryRun ? 'dry-run' : 'ok');
  } finally {
    ctx.lock?.release();
  }
}
