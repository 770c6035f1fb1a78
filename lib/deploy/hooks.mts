// Product hooks: named commands at fixed points of a deploy, declared as data in the product file
// (checks, beforeSwitch, afterDeploy, afterRollback, afterFailure). Each one runs on the host in
// the product's checkout or in a one-off container from the release's image of a service, with
// the deploy's facts as environment and only the secrets it names, whose values are redacted in
// everything berth prints or records. What a failure means is the calling step's business.
import { randomBytes } from 'node:crypto';
import { composeRunNamed } from '../commands/compose.mts';
import { dockerRm } from '../commands/docker.mts';
import type { HookDef, HookPoint } from '../config/product-schema.mts';
import { found, servicesWith, type DeployContext } from './context.mts';
import type { BerthError } from '../core/errors.mts';
import type { Step } from '../core/pipeline.mts';
import { currentRelease, readLedger, type HookRecord } from '../releases/ledger.mts';
import { hookFailure, hookSecrets, runHookCommand } from '../releases/hook-run.mts';
import { whoAmI } from '../releases/lock.mts';

export type HookContext = Pick<DeployContext, 'product' | 'options' | 'plan' | 'runner' | 'found' | 'composeEnv' | 'ui'>;

interface HookState {
  results: HookRecord[];
  previous?: string | null;
}
const states = new WeakMap<object, HookState>();
function state(ctx: object): HookState {
  let s = states.get(ctx);
  if (!s) states.set(ctx, (s = { results: [] }));
  return s;
}

/** Every hook this deploy ran, in order, for the ledger. */
export function hookResults(ctx: object): HookRecord[] {
  return state(ctx).results;
}

export function hooksAt(ctx: Pick<DeployContext, 'product'>, point: HookPoint): HookDef[] {
  return ctx.product.def[point] ?? [];
}

/** The release running before this deploy, read once: later hooks see the same answer. */
function previousTag(ctx: HookContext): string | undefined {
  const s = state(ctx);
  if (s.previous === undefined) s.previous = currentRelease(readLedger(ctx.product.stateDir))?.tag ?? null;
  return s.previous ?? undefined;
}

/** Where the product is reached, when a service routes through the edge: its first route. */
export function routeUrl(ctx: Pick<DeployContext, 'product'>): string | undefined {
  for (const service of Object.values(ctx.product.def.services)) {
    const route = service.routes?.[0];
    if (route) return `${ctx.product.edge?.scheme ?? 'https'}://${route.host}${route.path ?? '/'}`;
  }
  return undefined;
}

/** The facts every hook gets, plus the secrets it names (missing ones are empty, and said so). */
export function hookEnv(ctx: HookContext, hook: HookDef, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const url = routeUrl(ctx);
  const previous = previousTag(ctx);
  const facts: Record<string, string> = {
    BERTH_PRODUCT: ctx.product.name,
    BERTH_RELEASE: ctx.options.tag,
    BERTH_PREVIOUS: previous ?? '',
    BERTH_CHANGED: servicesWith(ctx, 'replace', 'start').join(','),
    BERTH_WHO: whoAmI(),
    BERTH_KIND: ctx.options.kind === 'rollback' ? 'rollback' : 'deploy',
    ...(url ? { BERTH_URL: url } : {}),
  };
  return { ...facts, ...hookSecrets(ctx.runner, hook, env) };
}

/** A hook's container name: unique per run, so a hung one is removed by this name and no other. */
export function hookContainerName(ctx: Pick<DeployContext, 'product'>, hook: HookDef, suffix = randomBytes(3).toString('hex')): string {
  return `${ctx.product.projectName}-hook-${hook.name}-${suffix}`;
}

/** The argv a hook runs: its own command on the host, or a compose one-off run of its service. */
export function hookArgv(ctx: HookContext, hook: HookDef, containerName?: string): string[] {
  const where = hook.in ?? 'host';
  if (where === 'host') return hook.command;
  const names = Object.keys(hookEnv(ctx, hook));
  return composeRunNamed(found(ctx).project, where, hook.command, {
    name: containerName ?? hookContainerName(ctx, hook, '<id>'),
    env: names,
  });
}

/** What dry-run prints for a point: each hook's exact argv, where it runs. */
export function describeHooks(ctx: HookContext, point: HookPoint): string {
  const lines = hooksAt(ctx, point).map((hook) => {
    const where = (hook.in ?? 'host') === 'host' ? ` (in ${ctx.product.repoDir})` : '';
    return `${hook.name}: ${ctx.runner.format(hookArgv(ctx, hook))}${where}`;
  });
  return `dry run: would run ${point} ${lines.join('; ')}`;
}

/** Runs one hook to its end or its timeout; never throws for the hook's own failure. */
export async function runHook(ctx: HookContext, point: HookPoint, hook: HookDef): Promise<HookRecord> {
  const env = hookEnv(ctx, hook);
  const inHost = (hook.in ?? 'host') === 'host';
  const name = inHost ? undefined : hookContainerName(ctx, hook);
  const argv = hookArgv(ctx, hook, name);
  ctx.ui.info(`${point} ${hook.name}: ${ctx.runner.format(argv)}`);
  const record = await runHookCommand(ctx.runner, point, hook, argv, {
    // A one-off container reads IMAGE_TAG and REGISTRY like every compose command of the deploy.
    env: inHost ? env : { ...ctx.composeEnv, ...env },
    ...(inHost ? { cwd: ctx.product.repoDir } : {}),
    // Stopping `compose run` leaves its container running: remove it by the name it was given.
    ...(name ? { cleanUp: () => ctx.runner.probe(dockerRm([name], { force: true })) } : {}),
  });
  state(ctx).results.push(record);
  return record;
}

/** Runs every hook of a point in order; the first failure stops the rest and comes back. */
export async function runHooks(ctx: HookContext, point: HookPoint): Promise<{ hook: HookDef; record: HookRecord } | undefined> {
  for (const hook of hooksAt(ctx, point)) {
    const record = await runHook(ctx, point, hook);
    if (record.result !== 'ok') return { hook, record };
  }
  return undefined;
}

/** The after* points: every hook runs, and a failure is a warning, never a failed deploy. */
export async function runWarningHooks(ctx: HookContext, point: HookPoint): Promise<HookRecord[]> {
  const failed: HookRecord[] = [];
  for (const hook of hooksAt(ctx, point)) {
    const record = await runHook(ctx, point, hook);
    if (record.result === 'ok') continue;
    failed.push(record);
    ctx.ui.warn(hookFailure(record, hook.timeoutSeconds));
  }
  return failed;
}

/**
 * A point whose failure stops the deploy (checks, beforeSwitch): every hook in order, the first
 * failure thrown as the point's own error, with its last output lines as details.
 */
export function blockingHookStep(
  point: HookPoint,
  options: {
    id: string;
    title: string;
    /** The point's error for a hook's failure line; its output's last lines become the details. */
    error: (line: string, hook: HookDef, details: string[]) => BerthError;
  },
): Step<DeployContext> {
  return {
    id: options.id,
    title: options.title,
    enabled: (ctx) => hooksAt(ctx, point).length > 0,
    skip: (ctx) => (ctx.options.dryRun ? describeHooks(ctx, point) : false),
    async run(ctx) {
      const failed = await runHooks(ctx, point);
      if (!failed) return;
      const { hook, record } = failed;
      throw options.error(hookFailure(record, hook.timeoutSeconds), hook, record.output ?? []);
    },
  };
}
