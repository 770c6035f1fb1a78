// `repair [product…] [--dry-run] [--json]`: makes the ledger, the routes and what runs agree
// again. Exit 1 when something could not be repaired (each said on its own `error:` line).
import { helpAsked, parse } from '../core/cli.mts';
import { loadSettings } from '../config/load.mts';
import { createRunner } from '../core/runner.mts';
import { formatRepair, repairProblems, repairProducts } from '../ops/repair.mts';
import type { Ui } from '../core/ui.mts';
import { REPAIR_USAGE } from './usage.mts';

export async function repairCli(argv: string[], ui: Ui): Promise<number> {
  const { values, positionals } = parse(argv, {}, REPAIR_USAGE);
  if (helpAsked(values, REPAIR_USAGE)) return 0;
  const dryRun = Boolean(values['dry-run']);
  const report = await repairProducts(createRunner({ dryRun, ui }), loadSettings(), ui, positionals.length ? positionals : undefined, {
    dryRun,
  });
  if (values.json) ui.json(report);
  else ui.result(formatRepair(report));
  const problems = repairProblems(report);
  for (const line of problems) ui.error(line);
  return problems.length > 0 ? 1 : 0;
}
