// `report [product…] [--since 30d] [--json] [--html FILE]`: delivery metrics from the ledgers and
// the deploy log. The table (or the JSON) goes to stdout; --html also writes one self-contained page.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { helpAsked, parse } from '../core/cli.mts';
import { loadSettings, type Settings } from '../config/load.mts';
import { UsageError } from '../core/errors.mts';
import { createRunner } from '../core/runner.mts';
import type { Ui } from '../core/ui.mts';
import { collectReport } from '../ops/report.mts';
import { parseSpan } from '../report/delivery.mts';
import { formatDelivery } from '../report/delivery-text.mts';
import { renderPage } from '../report/page.mts';
import { REPORT_USAGE } from './usage.mts';

export const REPORT_FLAGS = {
  since: { type: 'string' },
  html: { type: 'string' },
} as const;

export async function reportCli(argv: string[], ui: Ui, settings: Settings = loadSettings(), now = new Date()): Promise<number> {
  const { values, positionals } = parse(argv, REPORT_FLAGS, REPORT_USAGE);
  if (helpAsked(values, REPORT_USAGE)) return 0;
  if (values['dry-run']) throw new UsageError('report changes nothing: --dry-run does not apply', { fix: 'drop --dry-run' });
  const since = values.since ?? '30d';
  const spanMs = parseSpan(since);
  if (spanMs === undefined) throw new UsageError(`--since '${since}' is not a span like 30d`, { fix: 'pass --since 30d, 12h or 2w' });
  if (values.html === '') throw new UsageError('--html needs a file name', { fix: 'pass --html report.html' });
  const report = await collectReport(createRunner({ ui }), settings, positionals.length ? positionals : undefined, { spanMs, now }, ui);
  if (values.html) {
    const file = resolve(values.html);
    writeFileSync(file, renderPage(report));
    ui.info(`wrote ${file}`);
  }
  if (values.json) ui.json(report);
  else ui.result(formatDelivery(report));
  return 0;
}
