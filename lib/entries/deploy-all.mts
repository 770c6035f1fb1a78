// `deploy-all`: flags -> lib/ops/deploy-all.mts. Exit 0 when every product is ok or unchanged.
import { helpAsked, integerFlag, parse, splitList } from '../core/cli.mts';
import { deploySettings } from '../config/load.mts';
import { UsageError } from '../core/errors.mts';
import type { Ui } from '../core/ui.mts';
import { deployAll } from '../ops/deploy-all.mts';
import { DEPLOY_ALL_USAGE } from './usage.mts';

export const DEPLOY_ALL_FLAGS = {
  products: { type: 'string' },
  all: { type: 'boolean' },
  parallel: { type: 'string' },
  wait: { type: 'boolean' },
} as const;

export async function deployAllCli(argv: string[], ui: Ui): Promise<number> {
  const { values, positionals } = parse(argv, DEPLOY_ALL_FLAGS, DEPLOY_ALL_USAGE);
  if (helpAsked(values, DEPLOY_ALL_USAGE)) return 0;
  if (positionals.length > 0)
    throw new UsageError(`unexpected argument ${positionals[0]}`, { fix: 'use --products a,b to choose products' });
  const parallel = integerFlag(values.parallel, '--parallel', { min: 1, max: 32, example: 4 }) ?? 4;
  const report = await deployAll(
    { products: splitList(values.products), all: values.all, wait: values.wait, dryRun: values['dry-run'], parallel },
    deploySettings(),
    ui,
  );
  if (values.json) ui.json(report);
  return report.ok ? 0 : 1;
}
