// Retiring a product: what it has on this VM goes, after a plan the operator saw. The routes go
// first (the edge stops sending its hosts anywhere before anything stops answering), then its
// containers (each stopped with its own grace period, so a database flushes), its networks, its
// named volumes only when asked, the images of its own repositories, and its state (the ledger
// archived unless kept). Everything is found on the engine by the Compose project label, not
// through `compose down`: that needs the compose files and their variables, and misses replicas
// berth started itself. The checkout and the product file are the operator's to delete.
import { mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { caddyReload } from '../commands/caddy.mts';
import { dockerImageRemove } from '../commands/images.mts';
import { dockerNetworkRemove, dockerRemoveContainers, dockerStopGracefully, dockerVolumeRemove } from '../commands/project.mts';
import { loadCatalogue } from '../config/catalogue.mts';
import { loadEdge, type Edge, type Settings } from '../config/load.mts';
import { engineOf } from '../config/engine-choice.mts';
import { errorMessage, LockError, UsageError } from '../core/errors.mts';
import type { Runner } from '../core/runner.mts';
import type { Ui } from '../core/ui.mts';
import { withdrawSites } from '../deploy/edge.mts';
import { acquireLock } from '../releases/lock.mts';
import {
  edgeContainer,
  formatRetirePlan,
  planIsEmpty,
  planRetire,
  stateEntries,
  type RetireOptions,
  type RetirePlan,
} from './retire-plan.mts';

export interface RetireResult {
  plan: RetirePlan;
  dryRun: boolean;
  /** True once the plan was carried out (false: shown only, waiting for --yes). */
  retired: boolean;
  removed: string[];
  failed: { what: string; error: string }[];
}

/** Runs `work`; a failure is recorded under `what` and does not stop the caller. */
async function attempt(result: RetireResult, what: string, work: () => Promise<unknown>): Promise<boolean> {
  try {
    await work();
    return true;
  } catch (error) {
    result.failed.push({ what, error: errorMessage(error) });
    return false;
  }
}

/** Carries out the plan. The routes first, and a failure there stops everything; after that each
 *  removal is on its own, and what failed is listed. */
export async function carryOut(
  runner: Runner,
  ui: Ui,
  settings: Settings,
  plan: RetirePlan,
  options: RetireOptions,
): Promise<RetireResult> {
  const result: RetireResult = { plan, dryRun: Boolean(options.dryRun), retired: false, removed: [], failed: [] };
  if (plan.routes) {
    const step = ui.step(`retire ${plan.product}: routes`);
    const edge = (await loadEdge(settings)) as Edge;
    const container = await edgeContainer(runner, edge);
    if (options.dryRun) {
      ui.info(`dry run: would remove ${plan.routes.file}`);
      if (container) await runner.run(caddyReload(container.id, edge.config));
    } else {
      try {
        await withdrawSites({
          runner,
          edge,
          container,
          product: plan.product,
          tag: 'retire',
          onWait: () => ui.info('waiting for another product to finish its edge switch'),
        });
      } catch (error) {
        step.fail(errorMessage(error));
        throw error;
      }
    }
    result.removed.push(plan.routes.file);
    step.succeed(container ? `the edge ${container.name} reloaded` : 'no edge running');
  }

  if (plan.containers.length > 0) {
    const step = ui.step(`retire ${plan.product}: ${plan.containers.length} container${plan.containers.length === 1 ? '' : 's'}`);
    const running = plan.containers.filter((c) => ['running', 'restarting', 'paused'].includes(c.state)).map((c) => c.id);
    const removed =
      (running.length === 0 ||
        (await attempt(result, 'stop containers', () => runner.run(dockerStopGracefully(running), { timeoutMs: 10 * 60_000 })))) &&
      (await attempt(result, 'remove containers', () =>
        runner.run(
          dockerRemoveContainers(
            plan.containers.map((c) => c.id),
            { volumes: options.volumes },
          ),
          { timeoutMs: 5 * 60_000 },
        ),
      ));
    if (removed) {
      result.removed.push(...plan.containers.map((c) => c.name));
      step.succeed();
    } else step.fail(result.failed.at(-1)?.error ?? 'failed');
  }

  const each = async (title: string, names: string[], argv: (name: string) => string[]) => {
    if (names.length === 0) return;
    const step = ui.step(`retire ${plan.product}: ${title}`);
    const before = result.failed.length;
    for (const name of names)
      if (await attempt(result, name, () => runner.run(argv(name), { timeoutMs: 120_000 }))) result.removed.push(name);
    const failures = result.failed.slice(before);
    if (failures.length) step.fail(failures.map((f) => `${f.what}: ${f.error}`).join('; '));
    else step.succeed();
  };
  await each('networks', plan.networks, (name) => dockerNetworkRemove([name]));
  await each(
    'volumes',
    plan.volumes.filter((v) => v.action === 'remove').map((v) => v.name),
    (name) => dockerVolumeRemove([name]),
  );
  if (plan.images.length > 0) {
    const step = ui.step(`retire ${plan.product}: images`);
    const before = result.failed.length;
    for (const ref of plan.images) {
      try {
        await runner.run(dockerImageRemove(ref));
        result.removed.push(ref);
      } catch (error) {
        // A digest reference goes with the repository's last tag: already gone is done.
        if (/No such image/i.test(errorMessage(error))) result.removed.push(ref);
        else result.failed.push({ what: ref, error: errorMessage(error) });
      }
    }
    const failures = result.failed.slice(before);
    if (failures.length) step.fail(failures.map((f) => `${f.what}: ${f.error}`).join('; '));
    else step.succeed(`${plan.images.length} reference${plan.images.length === 1 ? '' : 's'}`);
  }

  const { state } = plan;
  if (state.archive) {
    const moving = stateEntries(state.dir).filter((f) => !(state.action === 'keep-ledger' && f === 'releases.jsonl'));
    if (options.dryRun) ui.info(`dry run: would move ${moving.join(', ')} from ${state.dir} to ${state.archive}`);
    else {
      const archive = state.archive;
      const moved = await attempt(result, archive, async () => {
        mkdirSync(archive, { recursive: true });
        for (const f of moving) renameSync(join(state.dir, f), join(archive, f));
      });
      if (moved) ui.info(`${moving.join(', ')} moved to ${archive}`);
    }
  }
  result.retired = !options.dryRun && result.failed.length === 0;
  return result;
}

/** Plans the retirement under the product's deploy lock and, with `yes`, carries it out. */
export async function retireProduct(
  runner: Runner,
  ui: Ui,
  settings: Settings,
  name: string,
  options: RetireOptions,
): Promise<RetireResult> {
  const catalogue = await loadCatalogue(settings);
  const entry = catalogue.find((e) => e.name === name) ?? (await loadCatalogue(settings, [name]))[0];
  if (!entry) throw new UsageError(`unknown product '${name}'`);
  if (engineOf(entry.product, settings) === 'swarm')
    throw new UsageError(`${name} runs on a swarm: berth does not retire a stack yet; nothing was changed`, {
      fix: `docker stack rm ${entry.projectName} on a manager, then remove ${entry.stateDir} if its releases are not wanted`,
    });
  // A deploy half done would leave containers and a ledger line the plan never saw.
  const lock = await acquireLock(entry.stateDir, { tag: '-', action: 'retire' }).catch((error: unknown) => {
    if (!(error instanceof LockError)) throw error;
    throw new LockError(error.message, {
      fix: `let it finish and rerun, or remove ${join(entry.stateDir, 'lock')} if that deploy is dead`,
    });
  });
  try {
    const plan = await planRetire(runner, settings, entry, catalogue, options);
    for (const line of formatRetirePlan(plan, options)) ui.info(line);
    if (planIsEmpty(plan)) {
      const kept = plan.volumes.map((v) => v.name);
      ui.info(
        kept.length ? `nothing to remove; kept: ${kept.join(', ')} (--volumes removes them)` : `nothing of ${name} is left on this VM`,
      );
      return { plan, dryRun: Boolean(options.dryRun), retired: !options.dryRun, removed: [], failed: [] };
    }
    if (!options.yes && !options.dryRun) return { plan, dryRun: false, retired: false, removed: [], failed: [] };
    return await carryOut(runner, ui, settings, plan, options);
  } finally {
    lock.release();
  }
}
