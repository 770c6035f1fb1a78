// `deploy <product>`: flags -> lib/ops/deploy-one.mts. Shared by scripts/deploy.mts and the
// per-product entry scripts, which only fix the product name.
import { helpAsked, parse, splitList } from '../core/cli.mts';
import { deploySettings } from '../config/load.mts';
import { UsageError } from '../core/errors.mts';
import type { Ui } from '../core/ui.mts';
import { deployOne } from '../ops/deploy-one.mts';
import { DEPLOY_USAGE } from './usage.mts';

export const DEPLOY_FLAGS = {
  tag: { type: 'string' },
  only: { type: 'string' },
  'include-stateful': { type: 'boolean' },
  wait: { type: 'boolean' },
  all: { type: 'boolean' },
  'build-on-vm': { type: 'boolean' },
} as const;

export async function deployCli(argv: string[], ui: Ui): Promise<number> {
  const { values, positionals } = parse(argv, DEPLOY_FLAGS, DEPLOY_USAGE);
  if (helpAsked(values, DEPLOY_USAGE)) return 0;
  if (positionals.length !== 1)
    throw new UsageError('deploy takes exactly one product', { fix: 'run npx zx scripts/deploy.mts <product> (see --help)' });
  const result = await deployOne(
    {
      product: positionals[0] as string,
      options: {
        tag: values.tag,
        only: splitList(values.only),
        includeStateful: values['include-stateful'],
        wait: values.wait,
        dryRun: values['dry-run'],
        all: values.all,
        ...(values['build-on-vm'] ? { buildOnVm: true, kind: 'build-on-vm' as const } : {}),
      },
    },
    deploySettings(),
    ui,
  );
  if (values.json) ui.json(result);
  else
    ui.info(
      `${result.product} ${result.tag.slice(0, 12)}: ${result.result}, changed: ${result.changed.join(', ') || 'nothing'} (${result.durationsMs.total} ms)`,
    );
  return 0;
}
