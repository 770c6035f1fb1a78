// `rollback [product] <sha> | --previous`: flags -> lib/ops/release-target.mts.
import { helpAsked, parse } from '../core/cli.mts';
import { deploySettings } from '../config/load.mts';
import type { Ui } from '../core/ui.mts';
import { rollbackLine, rollbackNamed } from '../ops/release-target.mts';
import { ROLLBACK_USAGE } from './usage.mts';

export const ROLLBACK_FLAGS = {
  previous: { type: 'boolean' },
  wait: { type: 'boolean' },
  'image-only': { type: 'boolean' },
} as const;

export async function rollbackCli(argv: string[], ui: Ui): Promise<number> {
  const { values, positionals } = parse(argv, ROLLBACK_FLAGS, ROLLBACK_USAGE);
  if (helpAsked(values, ROLLBACK_USAGE)) return 0;
  const result = await rollbackNamed(
    positionals,
    { previous: values.previous, dryRun: values['dry-run'], wait: values.wait, imageOnly: values['image-only'] },
    deploySettings(),
    ui,
  );
  if (values.json) ui.json(result);
  else ui.result(rollbackLine(result));
  return 0;
}
