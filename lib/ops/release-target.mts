// `rollback`: which product and which release the operator's arguments name, then the rollback
// itself (lib/ops/rollback.mts) and its one-line summary.
import { join } from 'node:path';
import { listProducts, loadProduct, type Settings } from '../config/load.mts';
import { UsageError } from '../core/errors.mts';
import { createRunner } from '../core/runner.mts';
import type { Ui } from '../core/ui.mts';
import { readLedger, type ReleaseRecord } from '../releases/ledger.mts';
import { productsWithRelease, shortTag } from '../releases/history.mts';
import { rollbackProduct, type RollbackRequest, type RollbackResult } from './rollback.mts';

type LedgerDirs = Pick<Settings, 'productsDir' | 'stateDir'>;

function ledgers(settings: LedgerDirs): Record<string, ReleaseRecord[]> {
  return Object.fromEntries(listProducts(settings).map((name) => [name, readLedger(join(settings.stateDir, name))]));
}

/** Which product and which release the positional arguments name. */
export function resolveTarget(positionals: string[], previous: boolean, settings: LedgerDirs): { product: string; sha?: string } {
  const known = listProducts(settings);
  if (positionals.length > 2)
    throw new UsageError(`unexpected argument ${positionals[2]}`, { fix: 'run rollback [product] <sha> (see --help)' });
  if (positionals.length === 2) {
    if (previous) throw new UsageError('give either a SHA or --previous, not both', { fix: 'drop one of them' });
    return { product: positionals[0] as string, sha: positionals[1] as string };
  }
  const [only] = positionals;
  if (only !== undefined && known.includes(only)) {
    if (!previous) throw new UsageError(`which release of ${only}?`, { fix: `run rollback ${only} <sha> or rollback ${only} --previous` });
    return { product: only };
  }
  const all = ledgers(settings);
  if (only === undefined) {
    if (!previous)
      throw new UsageError('which release?', { fix: 'run rollback [product] <sha> or rollback <product> --previous (see --help)' });
    const deployed = Object.entries(all)
      .filter(([, records]) => records.some((r) => r.result === 'ok'))
      .map(([name]) => name);
    if (deployed.length === 1) return { product: deployed[0] as string };
    throw new UsageError(
      deployed.length ? `--previous of which product? ${deployed.join(', ')} have releases` : 'no product has a release recorded',
      {
        fix: 'run rollback <product> --previous',
      },
    );
  }
  if (previous) throw new UsageError(`unknown product '${only}'`, { fix: `use one of ${known.join(', ') || '(none)'}` });
  const holders = productsWithRelease(all, only);
  if (holders.length === 1) return { product: holders[0] as string, sha: only };
  if (holders.length > 1)
    throw new UsageError(`${only} is a release of ${holders.join(' and ')}`, { fix: `name the product: rollback ${holders[0]} ${only}` });
  throw new UsageError(`${only} is neither a product nor a release recorded on this machine`, {
    fix: `name the product (${known.join(', ') || 'none'}) and a SHA from npx zx scripts/status.mts`,
  });
}

/** Rolls back the product and release that `rollback [product] <sha> | --previous` names. */
export async function rollbackNamed(
  positionals: string[],
  request: Omit<RollbackRequest, 'sha'>,
  settings: Settings,
  ui: Ui,
): Promise<RollbackResult> {
  const target = resolveTarget(positionals, Boolean(request.previous), settings);
  const product = await loadProduct(target.product, settings);
  const runner = createRunner({ dryRun: request.dryRun, ui });
  return rollbackProduct(product, settings, runner, ui, { ...request, sha: target.sha });
}

export function rollbackLine(result: RollbackResult): string {
  const from = result.from ? ` from ${shortTag(result.from)}` : '';
  const pulled = Object.entries(result.images)
    .filter(([, i]) => i.source === 'registry')
    .map(([s]) => s);
  const outcome = result.result === 'ok' ? `rolled back${from}` : result.result;
  const pull = pulled.length ? `, pulled by digest: ${pulled.join(', ')}` : ', no pull';
  return `${result.product} ${shortTag(result.tag)}: ${outcome}, changed: ${result.changed.join(', ') || 'nothing'}${pull} (${result.durationsMs.total} ms)`;
}
