// `hygiene`: the cron job that keeps disk and memory in check without breaking rollback.
import { helpAsked, integerFlag, parse, splitList } from '../core/cli.mts';
import { loadSettings } from '../config/load.mts';
import { UsageError } from '../core/errors.mts';
import { CLEANUPS, DEFAULT_BUILD_CACHE_CAP, DEFAULT_DISK_THRESHOLD, DEFAULT_KEEP, formatHygiene, parseSize, runHygiene, type CleanupName } from '../ops/hygiene.mts';
import { createRunner } from '../core/runner.mts';
import type { Ui } from '../core/ui.mts';

export const HYGIENE_USAGE = `usage: npx zx scripts/hygiene.mts [options]

Meant for cron (see scripts/cron/). In order:
  images       removes images of the products' own repositories (<registry>/<product>-<service>)
               that no product needs; always keeps, by image ID whatever their tags, the images of
               every product's containers and of its last N releases (keepReleases in the product
               file, default ${DEFAULT_KEEP}), so a rollback to any of them needs no registry. Images of
               other repositories are never touched. A product being deployed right now (its lock
               is held) is left alone until the next run.
  dangling     removes untagged images no container uses (engine-wide), except ones a kept
               release names
  build-cache  prunes the build cache down to a cap (docker builder prune --keep-storage)
Then reports: containers whose logs are not rotated (with the fix), disk use of Docker's root
directory, and the memory limits of every running product container summed against host RAM,
naming services with neither a limit nor a reservation. One failing cleanup never stops the
others or the report.

exit status: 0, or 1 when a cleanup failed or the disk is above the threshold (then the webhook in
BERTH_WEBHOOK_URL, if set, gets a Slack-compatible message).

options:
  --keep N             keep the last N releases of every product (overrides keepReleases)
  --products a,b       only these products' images and containers
  --skip a,b           skip cleanups: ${CLEANUPS.join(', ')}
  --build-cache-cap S  build cache to keep, e.g. 5GB (default BERTH_BUILD_CACHE_CAP or ${DEFAULT_BUILD_CACHE_CAP})
  --disk-threshold P   alert at P% used (default BERTH_DISK_THRESHOLD or ${DEFAULT_DISK_THRESHOLD})
  --dry-run            print what would be removed; remove nothing
  --json               the report as JSON on stdout
  --verbose, -v        show every command
  --help, -h           this text`;

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
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`, { fix: 'use --products a,b to choose products' });
  const skip = splitList(values.skip) ?? [];
  const unknown = skip.filter((s) => !(CLEANUPS as readonly string[]).includes(s));
  if (unknown.length) throw new UsageError(`unknown cleanup ${unknown.join(', ')} in --skip`, { fix: `use ${CLEANUPS.join(', ')}` });
  const settings = loadSettings();
  const cap = values['build-cache-cap'] ?? settings.env.BERTH_BUILD_CACHE_CAP ?? DEFAULT_BUILD_CACHE_CAP;
  if (parseSize(cap) === undefined) throw new UsageError(`'${cap}' is not a size up to 1 PiB`, { fix: 'use e.g. --build-cache-cap 5GB' });
  const report = await runHygiene(createRunner({ dryRun: values['dry-run'], ui }), ui, settings, {
    dryRun: values['dry-run'],
    keep: integerFlag(values.keep, '--keep', { min: 1, max: 100, example: 5 }),
    products: splitList(values.products),
    skip: skip as CleanupName[],
    buildCacheCap: cap,
    diskThreshold: integerFlag(values['disk-threshold'] ?? settings.env.BERTH_DISK_THRESHOLD, '--disk-threshold', { min: 1, max: 100, example: 80 }) ?? DEFAULT_DISK_THRESHOLD,
    webhookUrl: settings.env.BERTH_WEBHOOK_URL || undefined,
  });
  if (values.json) ui.json(report);
  else for (const line of formatHygiene(report)) ui.info(line);
  return report.alerts.length > 0 ? 1 : 0;
}
