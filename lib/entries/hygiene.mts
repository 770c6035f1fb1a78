// `hygiene`: the cron job that keeps disk and memory in check without breaking rollback.
import { helpAsked, integerFlag, parse, splitList } from '../core/cli.mts';
import { loadSettings } from '../config/load.mts';
import { UsageError } from '../core/errors.mts';
import { parseSize } from '../core/bytes.mts';
import { CLEANUPS, formatHygiene, type CleanupName } from '../ops/hygiene/report.mts';
import { DEFAULT_BUILD_CACHE_CAP, DEFAULT_DISK_THRESHOLD, runHygiene } from '../ops/hygiene/run.mts';
import { createRunner } from '../core/runner.mts';
import type { Ui } from '../core/ui.mts';
import { HYGIENE_USAGE } from './usage.mts';

export const HYGIENE_FLAGS = {
  keep: { type: 'string' },
  products: { type: 'string' },
  skip: { type: 'string' },
  'build-cache-cap': { type: 'string' },
  'disk-threshold': { type: 'string' },
} as const;

export async function hygieneCli(argv: string[], ui: Ui): Promise<number> {
  const { values, positionals } = parse(argv, HYGIENE_FLAGS, HYGIENE_USAGE);
  if (helpAsked(values, HYGIENE_USAGE)) return 0;
  if (positionals.length > 0)
    throw new UsageError(`unexpected argument ${positionals[0]}`, { fix: 'use --products a,b to choose products' });
  const skip = splitList(values.skip) ?? [];
  const unknown = skip.filter((s) => !(CLEANUPS as readonly string[]).includes(s));
  if (unknown.length) throw new UsageError(`unknown cleanup ${unknown.join(', ')} in --skip`, { fix: `use ${CLEANUPS.join(', ')}` });
  const settings = loadSettings();
  const cap = values['build-cache-cap'] ?? settings.buildCacheCap ?? DEFAULT_BUILD_CACHE_CAP;
  if (parseSize(cap) === undefined) throw new UsageError(`'${cap}' is not a size up to 1 PiB`, { fix: 'use e.g. --build-cache-cap 5GB' });
  if (values['build-cache-cap'] !== undefined && !settings.hygieneBuilderPrune && !skip.includes('build-cache'))
    throw new UsageError('--build-cache-cap has no effect: the build-cache cleanup is off (BERTH_HYGIENE_BUILDER_PRUNE=off)', {
      fix: "set BERTH_HYGIENE_BUILDER_PRUNE=on to prune the engine's whole build cache, or drop --build-cache-cap",
    });
  const report = await runHygiene(createRunner({ dryRun: values['dry-run'], ui }), ui, settings, {
    dryRun: values['dry-run'],
    keep: integerFlag(values.keep, '--keep', { min: 1, max: 100, example: 5 }),
    products: splitList(values.products),
    skip: skip as CleanupName[],
    buildCacheCap: cap,
    builderPrune: settings.hygieneBuilderPrune,
    diskThreshold:
      integerFlag(values['disk-threshold'], '--disk-threshold', { min: 1, max: 100, example: 80 }) ??
      settings.diskThreshold ??
      DEFAULT_DISK_THRESHOLD,
    webhookUrl: settings.webhookUrl,
  });
  if (values.json) ui.json(report);
  else ui.result(formatHygiene(report));
  return report.alerts.length > 0 ? 1 : 0;
}
