// `status [product] [--json]`: what runs now, per product and service. Exit 2 when a product's
// definition is in error, 1 when a product drifted (its `drift:` lines say what repair would
// mend); the JSON or the table is printed all the same.
import { helpAsked, parse } from '../core/cli.mts';
import { loadSettings } from '../config/load.mts';
import { UsageError } from '../core/errors.mts';
import { createRunner } from '../core/runner.mts';
import { collectStatus } from '../ops/status.mts';
import { driftedProducts, formatStatus, productErrors } from '../ops/status-text.mts';
import type { Ui } from '../core/ui.mts';
import { STATUS_USAGE } from './usage.mts';

export async function statusCli(argv: string[], ui: Ui): Promise<number> {
  const { values, positionals } = parse(argv, {}, STATUS_USAGE);
  if (helpAsked(values, STATUS_USAGE)) return 0;
  if (positionals.length > 1) throw new UsageError(`unexpected argument ${positionals[1]}`, { fix: 'name at most one product' });
  if (values['dry-run']) throw new UsageError('status changes nothing: --dry-run does not apply', { fix: 'drop --dry-run' });
  const report = await collectStatus(createRunner({ ui }), loadSettings(), positionals.length ? positionals : undefined);
  if (values.json) ui.json(report);
  else ui.result(formatStatus(report));
  const errors = productErrors(report);
  for (const line of errors) ui.error(line);
  if (errors.length > 0) return 2;
  return driftedProducts(report).length > 0 ? 1 : 0;
}
