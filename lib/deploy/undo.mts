// What a failed deploy leaves behind. Registered once with the pipeline, it runs on any failure
// and reads only the undo journal the switch steps kept: traffic goes back to the old containers
// (which were never stopped), the new containers go, and a stop-first service is brought back at
// the previous release. The ledger says what happened, once the afterFailure hooks have run (so
// their results are in it): undo hands back the recording rather than doing it.
import { composeUp } from '../commands/compose.mts';
import { dockerRm } from '../commands/docker.mts';
import type { DeployContext } from './context.mts';
import { listContainers } from '../engine/engine.mts';
import { engineGoneError, engineVerdict, waitForEngine } from './engine-gone.mts';
import { BerthError, errorMessage } from '../core/errors.mts';
import { publishUpstreams, writeUpstreams } from './proxy.mts';
import { handBack, waitForLookups } from './handover.mts';
import { restoreCheckout } from './steps/checkout.mts';
import { CHECKS_STEP } from './steps/checks.mts';
import { appendRelease, currentRelease, readLedger, type ReleaseRecord, type ServiceImage } from '../releases/ledger.mts';
import { currentImages, releaseRecord } from './steps/record.mts';
import { restoreOnSwarm, swarmImages } from './steps/swarm.mts';

/**
 * What runs now, for the record. If the engine does not answer (it went away and is not back
 * yet), the record says so and keeps the previous release's images rather than a second error on
 * top of the first.
 */
async function imagesAfterFailure(ctx: DeployContext, previous: ReleaseRecord | undefined): Promise<Record<string, ServiceImage>> {
  try {
    return await currentImages(ctx);
  } catch (first) {
    if (await waitForEngine(ctx)) {
      try {
        return await currentImages(ctx);
      } catch {
        // answering, but not listing: said below
      }
    }
    ctx.ui.warn(
      `could not read what runs (${errorMessage(first).split('\n')[0]}); the record keeps ${previous ? `the images of ${previous.tag}` : 'no images'}`,
    );
    return previous?.services ?? {};
  }
}

/** Appends what the failed deploy left to the ledger; nothing for a refusal. */
export type RecordFailure = () => void;

export async function undoDeploy(ctx: DeployContext, error: unknown, stepId: string): Promise<RecordFailure> {
  // The checkout goes back first: whatever failed, the release still running is the old one.
  await restoreCheckout(ctx);
  // Preflight or a product check refused (or this is a dry run): nothing else was touched and
  // nothing is recorded.
  if (!ctx.found || ctx.options.dryRun || stepId === CHECKS_STEP) return () => {};
  const { journal } = ctx;
  // The engine went away mid-deploy: nothing can be put back until it answers again. Its line
  // names the step itself.
  const gone = await engineVerdict(ctx, error, stepId);
  const message = ctx.runner.redact(
    gone !== undefined
      ? engineGoneError(ctx, gone, stepId).message
      : `${stepId}: ${error instanceof BerthError ? error.message : String(error)}`,
  );
  const previous = currentRelease(readLedger(ctx.product.stateDir));
  const restored: string[] = [];

  if (journal.switched.length > 0) {
    const services = journal.switched.map((s) => s.service);
    // Newest first: a name goes back before the upstream file that names it.
    const handovers = [...journal.switched].reverse().flatMap((s) => (s.handover ? [s.handover] : []));
    for (const handover of handovers) await handBack(ctx, handover);
    // The edge may still dial a new container's address until it looks the name up again.
    if (handovers.length > 0) await waitForLookups();
    for (const { service, before } of journal.switched) writeUpstreams(ctx.product, service, before);
    if (ctx.found.proxy) await publishUpstreams(ctx, ctx.found.proxy);
    restored.push(...services);
    ctx.ui.warn(`traffic is back on the previous containers of ${services.join(', ')}`);
  }

  const started = journal.started && journal.started.existingIds.length > 0 ? journal.started : undefined;
  const replaced = Object.entries(started?.replaced ?? {});
  // New containers of start-first services: the old ones are still running beside them.
  const existing = new Set(started?.existingIds);
  const fresh: string[] = [];
  for (const [service] of replaced.filter(([, strategy]) => strategy === 'start-first')) {
    const all = await listContainers(ctx.runner, ctx.product.projectName, service, true);
    fresh.push(...all.filter((c) => !existing.has(c.id)).map((c) => c.id));
  }
  if (fresh.length > 0) {
    await ctx.runner.run(dockerRm(fresh, { force: true }));
    ctx.ui.warn(`removed ${fresh.length} new container(s); the previous release keeps serving`);
  }

  // A stop-first service has no old container left: bring the previous release back.
  const stopFirst = replaced.filter(([, strategy]) => strategy === 'stop-first').map(([name]) => name);
  if (stopFirst.length > 0 && previous) {
    ctx.ui.warn(`bringing ${stopFirst.join(', ')} back at ${previous.tag}`);
    await ctx.runner.run(composeUp(ctx.found.project, stopFirst, { noDeps: true }), {
      env: { ...ctx.composeEnv, IMAGE_TAG: previous.tag },
    });
    restored.push(...stopFirst);
  }

  // Swarm rolled its failed updates back itself: the previous spec runs again.
  if (journal.swarmRolledBack?.length) {
    restored.push(...journal.swarmRolledBack);
    ctx.ui.warn(`Swarm rolled ${journal.swarmRolledBack.join(', ')} back to the previous release`);
  }
  // Updates Swarm completed and berth then failed (smoke, monitor window): berth puts them back.
  // What it cannot put back keeps running the release that failed: the deploy's error says so
  // (runDeploySteps), and so does the ledger.
  let notRestored = '';
  if (journal.swarmUpdated?.length) {
    const updated = journal.swarmUpdated;
    let back: string[] = [];
    let why = previous ? 'no earlier release recorded a digest for them' : 'no earlier release is recorded';
    try {
      back = previous ? await restoreOnSwarm(ctx, previous, updated) : [];
    } catch (restoreError) {
      why = ctx.runner.redact(errorMessage(restoreError).split('\n')[0] ?? '');
    }
    restored.push(...back);
    if (back.length > 0) ctx.ui.warn(`${back.join(', ')} back on ${previous?.tag}, its recorded digests deployed again`);
    const left = updated.filter((name) => !back.includes(name));
    if (left.length > 0) {
      journal.swarmNotRestored = { services: left, ...(previous ? { to: previous.tag } : {}), why };
      notRestored = `; not restored: ${left.join(', ')} still ${left.length === 1 ? 'runs' : 'run'} ${ctx.options.tag}${previous ? ` (putting them back on ${previous.tag} failed: ${why})` : ` (${why})`}`;
    }
  }

  const images = ctx.settings.engine === 'swarm' ? await swarmImages(ctx) : await imagesAfterFailure(ctx, previous);
  return () => recordFailure(ctx, { images, message: `${message}${notRestored}`, restored, previous });
}

function recordFailure(
  ctx: DeployContext,
  {
    images,
    message,
    restored,
    previous,
  }: { images: Record<string, ServiceImage>; message: string; restored: string[]; previous?: ReleaseRecord },
): void {
  appendRelease(ctx.product.stateDir, releaseRecord(ctx, restored.length > 0 ? 'rolled-back' : 'failed', images, message));
  if (restored.length > 0 && previous) {
    // The previous release runs again, with the config the checkout went back to.
    const { config: _config, dirty: _dirty, ...record } = releaseRecord(ctx, 'ok', images);
    const config = ctx.journal.checkedOut ? ctx.journal.checkedOut.from : previous.config;
    appendRelease(ctx.product.stateDir, {
      ...record,
      tag: previous.tag,
      kind: 'auto-rollback',
      changed: restored,
      error: `undid ${ctx.options.tag} (${message})`,
      ...(config ? { config } : {}),
      hooks: undefined,
    });
  }
}
