// `retire <product>`: the plan of what goes and what stays, and with --yes, retirement.
import { helpAsked, parse } from '../core/cli.mts';
import { loadSettings } from '../config/load.mts';
import { UsageError } from '../core/errors.mts';
import { createRunner } from '../core/runner.mts';
import type { Ui } from '../core/ui.mts';
import { retireProduct } from '../ops/retire.mts';
import { RETIRE_USAGE } from './usage.mts';

export const RETIRE_FLAGS = {
  yes: { type: 'boolean', short: 'y' },
  volumes: { type: 'boolean' },
  'keep-ledger': { type: 'boolean' },
} as const;

export async function retireCli(argv: string[], ui: Ui): Promise<number> {
  const { values, positionals } = parse(argv, RETIRE_FLAGS, RETIRE_USAGE);
  if (helpAsked(values, RETIRE_USAGE)) return 0;
  if (positionals.length === 0) throw new UsageError('which product?', { fix: 'name it: scripts/retire.mts <product>' });
  if (positionals.length > 1) throw new UsageError(`unexpected argument ${positionals[1]}`, { fix: 'retire one product at a time' });
  const name = positionals[0] as string;
  const dryRun = Boolean(values['dry-run']);
  const result = await retireProduct(createRunner({ dryRun, ui }), ui, loadSettings(), name, {
    yes: values.yes,
    volumes: values.volumes,
    keepLedger: values['keep-ledger'],
    dryRun,
  });
  if (values.json) ui.json(result);
  if (!values.yes && !dryRun && !result.retired) {
    throw new UsageError(`nothing was changed; retiring ${name} removes what the plan above lists`, { fix: 'rerun with --yes' });
  }
  for (const f of result.failed) ui.error(`${f.what}: ${f.error}`);
  if (result.failed.length > 0) return 1;
  if (!dryRun) ui.info(`${name} is retired`);
  return 0;
}
