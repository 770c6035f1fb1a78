// What a failed deploy leaves behind. Registered once with the pipeline, it runs on any failure:
// traffic goes back to the old containers (which were never stopped), the new containers go, and
// a stop-first service is brought back at the previous release. The ledger says what happened.
import { composeUp } from '../commands/compose.mts';
import { dockerRm } from '../commands/docker.mts';
import type { DeployContext } from './context.mts';
import { listContainers } from '../engine/engine.mts';
import { BerthError } from '../core/errors.mts';
import { reloadProxy, writeUpstreams } from './proxy.mts';
import { appendRelease, currentRelease, readLedger } from '../releases/ledger.mts';
import { currentImages, releaseRecord } from './steps/record.mts';
import { findProxy } from './steps/reconcile.mts';

export async function undoDeploy(ctx: DeployContext, error: unknown, stepId: string): Promise<void> {
  // Only a deploy that held the lock touched anything worth undoing or recording.
  if (!ctx.lock) return;
  const message = ctx.runner.redact(`${stepId}: ${error instanceof BerthError ? error.message : String(error)}`);
  const previous = currentRelease(readLedger(ctx.product.stateDir));
  const restored: string[] = [];

  if (ctx.switched.length > 0) {
    for (const service of ctx.switched) writeUpstreams(ctx.product, service, ctx.upstreamsBefore[service] ?? []);
    const proxy = ctx.proxy ?? (await findProxy(ctx));
    if (proxy) await reloadProxy(ctx.runner, proxy);
    restored.push(...ctx.switched);
    ctx.ui.warn(`traffic is back on the previous containers of ${ctx.switched.join(', ')}`);
  }

  // New containers of start-first services: the old ones are still running beside them.
  const existing = new Set(ctx.existingIds);
  const fresh: string[] = [];
  for (const [service, strategy] of Object.entries(ctx.strategy)) {
    if (strategy !== 'start-first' || ctx.existingIds.length === 0) continue;
    const all = await listContainers(ctx.runner, ctx.product.projectName, service, true);
    fresh.push(...all.filter((c) => !existing.has(c.id)).map((c) => c.id));
  }
  if (fresh.length > 0) {
    await ctx.runner.run(dockerRm(fresh, { force: true }));
    ctx.ui.warn(`removed ${fresh.length} new container(s); the previous release keeps serving`);
  }

  // A stop-first service has no old container left: bring the previous release back.
  const stopFirst = Object.entries(ctx.strategy)
    .filter(([, s]) => s === 'stop-first')
    .map(([name]) => name)
    .filter((name) => ctx.existingIds.length > 0 && ctx.plan[name]?.action === 'replace');
  if (stopFirst.length > 0 && previous && ctx.project) {
    ctx.ui.warn(`bringing ${stopFirst.join(', ')} back at ${previous.tag}`);
    await ctx.runner.run(composeUp(ctx.project, stopFirst, { noDeps: true }), { env: { ...ctx.composeEnv, IMAGE_TAG: previous.tag } });
    restored.push(...stopFirst);
  }

  const images = await currentImages(ctx);
  appendRelease(ctx.product.stateDir, releaseRecord(ctx, restored.length > 0 ? 'rolled-back' : 'failed', images, message));
  if (restored.length > 0 && previous) {
    appendRelease(ctx.product.stateDir, {
      ...releaseRecord(ctx, 'ok', images),
      tag: previous.tag,
      kind: 'auto-rollback',
      changed: restored,
      error: `undid ${ctx.options.tag} (${message})`,
    });
  }
}
