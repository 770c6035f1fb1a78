// `status [product] [--json]`: what runs now, per product and service.
import { helpAsked, parse } from '../core/cli.mts';
import { loadSettings } from '../config/load.mts';
import { UsageError } from '../core/errors.mts';
import { createRunner } from '../core/runner.mts';
import { collectStatus, formatStatus } from '../ops/status.mts';
import type { Ui } from '../core/ui.mts';

export const STATUS_USAGE = `usage: npx zx scripts/status.mts [product] [--json]

For each product (or the one named) and each service: the release tag and image digest running
now, read from the containers; when, by whom and through which release it was deployed (the
ledger); health; and the releases a rollback can still reach (images on this engine, or in the
registry: "(pull)"). Products whose repo is not on this machine are "not deployed here".

options:
  --json         the same as JSON on stdout (what the dashboard reads)
  --verbose, -v  show every command
  --help, -h     this text`;

export async function statusCli(argv: string[], ui: Ui): Promise<number> {
  const { values, positionals } = parse(argv, {}, STATUS_USAGE);
  if (helpAsked(values, STATUS_USAGE)) return 0;
  if (positionals.length > 1) throw new UsageError(`unexpected argument ${positionals[1]}`, { fix: 'name at most one product' });
  if (values['dry-run']) throw new UsageError('status changes nothing: --dry-run does not apply', { fix: 'drop --dry-run' });
  const report = await collectStatus(createRunner({ ui }), loadSettings(), positionals.length ? positionals : undefined);
  if (values.json) ui.json(report);
  else for (const line of formatStatus(report)) ui.info(line);
  return 0;
}
