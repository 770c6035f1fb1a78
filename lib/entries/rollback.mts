// `rollback [product] <sha> | --previous`: flags -> product -> lib/ops/rollback.mts.
import { join } from 'node:path';
import { helpAsked, parse } from '../core/cli.mts';
import { listProducts, loadProduct, loadSettings, type Settings } from '../config/load.mts';
import { UsageError } from '../core/errors.mts';
import { rollbackProduct, type RollbackResult } from '../ops/rollback.mts';
import { productsWithRelease, shortTag } from '../releases/history.mts';
import { createRunner } from '../core/runner.mts';
import { readLedger, type ReleaseRecord } from '../releases/ledger.mts';
import type { Ui } from '../core/ui.mts';

export const ROLLBACK_USAGE = `usage: npx zx scripts/rollback.mts [product] <sha> | [product] --previous [options]

Switches a product back to a release recorded in its ledger, through the same health-checked path
as a deploy, and records it (kind rollback). Before anything changes it checks that every image of
that release is still on this engine (by image ID) or in the registry (by digest), and refuses
otherwise. Local images need no registry: no pull, no build.

  <sha>        a recorded release: the full tag or a unique prefix (4+ characters); without a
               product, the product whose ledger holds it
  --previous   the release that ran before the current one (after a rollback: before the restored
               release first ran, so repeating it walks further back)

options:
  --wait         wait for another deploy of the product to finish instead of failing
  --dry-run      print the plan and the exact commands; change nothing
  --json         print the result as JSON on stdout
  --verbose, -v  show every command and its time
  --help, -h     this text

npx zx scripts/status.mts lists the releases each product can roll back to.`;

export const ROLLBACK_FLAGS = {
  previous: { type: 'boolean' },
  wait: { type: 'boolean' },
} as const;

function ledgers(settings: Settings): Record<string, ReleaseRecord[]> {
  return Object.fromEntries(listProducts(settings).map((name) => [name, readLedger(join(settings.stateDir, name))]));
}

/** Which product and which release the positional arguments name. */
export function resolveTarget(positionals: string[], previous: boolean, settings: Settings): { product: string; sha?: string } {
  const known = listProducts(settings);
  if (positionals.length > 2) throw new UsageError(`unexpected argument ${positionals[2]}`, { fix: 'run rollback [product] <sha> (see --help)' });
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
    if (!previous) throw new UsageError('which release?', { fix: 'run rollback [product] <sha> or rollback <product> --previous (see --help)' });
    const deployed = Object.entries(all)
      .filter(([, records]) => records.some((r) => r.result === 'ok'))
      .map(([name]) => name);
    if (deployed.length === 1) return { product: deployed[0] as string };
    throw new UsageError(deployed.length ? `--previous of which product? ${deployed.join(', ')} have releases` : 'no product has a release recorded', {
      fix: 'run rollback <product> --previous',
    });
  }
  if (previous) throw new UsageError(`unknown product '${only}'`, { fix: `use one of ${known.join(', ') || '(none)'}` });
  const holders = productsWithRelease(all, only);
  if (holders.length === 1) return { product: holders[0] as string, sha: only };
  if (holders.length > 1) throw new UsageError(`${only} is a release of ${holders.join(' and ')}`, { fix: `name the product: rollback ${holders[0]} ${only}` });
  throw new UsageError(`${only} is neither a product nor a release recorded on this machine`, {
    fix: `name the product (${known.join(', ') || 'none'}) and a SHA from npx zx scripts/status.mts`,
  });
}

export async function rollbackCli(argv: string[], ui: Ui): Promise<number> {
  const { values, positionals } = parse(argv, ROLLBACK_FLAGS, ROLLBACK_USAGE);
  if (helpAsked(values, ROLLBACK_USAGE)) return 0;
  const settings = loadSettings();
  const target = resolveTarget(positionals, Boolean(values.previous), settings);
  const product = await loadProduct(target.product, settings);
  const runner = createRunner({ dryRun: values['dry-run'], ui });
  const result: RollbackResult = await rollbackProduct(product, settings, runner, ui, {
    sha: target.sha,
    previous: values.previous,
    dryRun: values['dry-run'],
    wait: values.wait,
  });
  if (values.json) ui.json(result);
  else {
    const from = result.from ? ` from ${shortTag(result.from)}` : '';
    const pulled = Object.entries(result.images).filter(([, i]) => i.source === 'registry').map(([s]) => s);
    ui.info(
      `${result.product} ${shortTag(result.tag)}: ${result.result === 'ok' ? `rolled back${from}` : result.result}, changed: ${result.changed.join(', ') || 'nothing'}` +
        `${pulled.length ? `, pulled by digest: ${pulled.join(', ')}` : ', no pull'} (${result.durationsMs.total} ms)`,
    );
  }
  return 0;
}
