// The cleanups, each on its own: one failing never stops the others. Only image references in the
// products' own repositories, dangling images no kept release names, and (when
// BERTH_HYGIENE_BUILDER_PRUNE is on) the engine's build cache above its cap are ever removed.
import {
  dockerAllContainerIds,
  dockerBuilderPrune,
  dockerContainerImages,
  dockerDanglingIds,
  dockerImageRemove,
  dockerImagesJson,
} from '../../commands/images.mts';
import type { Product } from '../../config/load.mts';
import { parseSize } from '../../core/bytes.mts';
import { EngineError, errorMessage, LockError } from '../../core/errors.mts';
import type { Runner } from '../../core/runner.mts';
import type { Ui } from '../../core/ui.mts';
import { acquireLock, type Lock } from '../../releases/lock.mts';
import type { CleanupResult, HygieneReport } from './report.mts';
import { parseImageList, planImageRemoval, type KeepSet } from './retention.mts';

export interface CleanupOptions {
  dryRun?: boolean;
  /** Build cache to keep, as the operator wrote it (5GB). */
  buildCacheCap: string;
}

/** Image IDs of every container on the engine: docker refuses to remove them, so we never try. */
export async function imagesInUse(runner: Runner): Promise<Set<string>> {
  const ids = (await runner.read(dockerAllContainerIds())).split('\n').filter(Boolean);
  if (ids.length === 0) return new Set();
  // A container removed between the listing and the inspect (another deploy retiring its old
  // one) is no error: inspect still prints every other container, and a gone one uses no image.
  const result = await runner.probe(dockerContainerImages(ids));
  const unexpected = result.stderr.split('\n').filter((line) => line.trim() && !/No such (object|container)/i.test(line));
  if (result.exitCode !== 0 && unexpected.length > 0) {
    throw new EngineError(`cannot tell which images containers use: ${unexpected[0]}`, {
      fix: 'check that the engine answers (docker info)',
    });
  }
  const lines = result.stdout.split('\n').filter(Boolean);
  return new Set(lines.map((line) => line.split('|')[1] ?? ''));
}

async function removeAll(runner: Runner, refs: string[], result: CleanupResult): Promise<void> {
  for (const ref of refs) {
    try {
      await runner.run(dockerImageRemove(ref));
      result.removed.push(ref);
    } catch (error) {
      const text = errorMessage(error);
      // A digest reference goes with its repository's last tag: already gone is done.
      if (/No such image/i.test(text)) result.removed.push(ref);
      else result.failed.push({ ref, error: text });
    }
  }
}

/** Removes what planImageRemoval says, product by product under each one's deploy lock. */
export async function cleanImages(
  runner: Runner,
  ui: Ui,
  products: Product[],
  report: Pick<HygieneReport, 'products' | 'keptImages'>,
  options: CleanupOptions,
  inUse: Set<string>,
  keep: KeepSet,
): Promise<CleanupResult> {
  const result: CleanupResult = { name: 'images', state: 'done', summary: '', removed: [], failed: [] };
  const locks: Lock[] = [];
  try {
    const repositories = new Set<string>();
    for (const product of products) {
      if (!options.dryRun) {
        try {
          // A deploy between pull and record holds images no ledger names yet: leave that product alone.
          locks.push(await acquireLock(product.stateDir, { tag: '-', action: 'hygiene' }));
        } catch (error) {
          if (!(error instanceof LockError)) throw error;
          const entry = report.products.find((p) => p.product === product.name);
          if (entry) entry.reason = `images not cleaned: ${error.message}`;
          ui.warn(`${product.name}: ${error.message}; its images are left alone this time`);
          continue;
        }
      }
      for (const service of Object.values(product.services)) repositories.add(service.repository);
    }
    const plan = planImageRemoval(parseImageList(await runner.read(dockerImagesJson())), repositories, keep, inUse);
    report.keptImages = plan.keep;
    await removeAll(
      runner,
      plan.remove.map((r) => r.ref),
      result,
    );
    result.summary = `${options.dryRun ? 'would remove' : 'removed'} ${result.removed.length} image reference${result.removed.length === 1 ? '' : 's'}, kept ${plan.keep.length}`;
  } finally {
    for (const lock of locks) lock.release();
  }
  return result;
}

export async function cleanDangling(runner: Runner, keep: KeepSet, inUse: Set<string>, options: CleanupOptions): Promise<CleanupResult> {
  const result: CleanupResult = { name: 'dangling', state: 'done', summary: '', removed: [], failed: [] };
  const ids = [...new Set((await runner.read(dockerDanglingIds())).split('\n').filter(Boolean))];
  // An untagged image a kept release names is still a rollback target: never "dangling" to us.
  await removeAll(
    runner,
    ids.filter((id) => !keep.ids.has(id) && !inUse.has(id)),
    result,
  );
  result.summary = `${options.dryRun ? 'would remove' : 'removed'} ${result.removed.length} dangling image${result.removed.length === 1 ? '' : 's'}`;
  return result;
}

export async function pruneBuildCache(runner: Runner, options: CleanupOptions): Promise<CleanupResult> {
  const cap = options.buildCacheCap;
  const bytes = parseSize(cap);
  // Docker is given plain bytes we checked, never the operator's text: it reads units loosely.
  if (bytes === undefined) throw new Error(`'${cap}' is not a size up to 1 PiB`);
  const run = await runner.run(dockerBuilderPrune(bytes), { timeoutMs: 10 * 60_000 });
  const reclaimed = /Total reclaimed space:\s*(\S+)/.exec(run.stdout)?.[1];
  return {
    name: 'build-cache',
    state: 'done',
    // Said every time: this is the one cleanup that reaches past the products to the whole engine.
    summary: options.dryRun
      ? `would prune the engine's whole build cache (every user's, not only berth's) down to ${cap}`
      : `pruned the engine's whole build cache (every user's) down to ${cap}${reclaimed ? `, reclaimed ${reclaimed}` : ''}`,
    removed: [],
    failed: [],
  };
}
