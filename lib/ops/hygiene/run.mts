// Disk hygiene for cron: remove the images no product needs while keeping, by image ID, every
// image a rollback may still want (the running release and the last N of every product); then
// report what can fill the disk or the memory. Each cleanup and each report runs on its own, so
// one failure never hides the others; anything an operator must act on is an alert (exit 1).
import { hostname, totalmem } from 'node:os';
import { loadCatalogue, type CatalogueEntry } from '../../config/catalogue.mts';
import type { Product, Settings } from '../../config/load.mts';
import { formatBytes } from '../../core/bytes.mts';
import { errorMessage } from '../../core/errors.mts';
import type { Runner } from '../../core/runner.mts';
import type { Ui } from '../../core/ui.mts';
import { checkEngine, type EngineInfo } from '../../engine/engine.mts';
import { readLedger } from '../../releases/ledger.mts';
import { makeRedactor, postWebhook, webhookOrigin } from '../../report/webhook.mts';
import { auditDisk, auditLogs, containersOf, memoryReport, type ContainerHost } from './audits.mts';
import { cleanDangling, cleanImages, imagesInUse, pruneBuildCache } from './cleanups.mts';
import type { CleanupName, CleanupResult, HygieneReport } from './report.mts';
import { imagesToKeep, keptReleases, type KeepSet } from './retention.mts';

export const DEFAULT_KEEP = 5;
export const DEFAULT_DISK_THRESHOLD = 80;
export const DEFAULT_BUILD_CACHE_CAP = '5GB';

export const BUILDER_PRUNE_OFF =
  "skipped (BERTH_HYGIENE_BUILDER_PRUNE=off): the build cache is the whole engine's, other users' too; the disk report shows its size; set BERTH_HYGIENE_BUILDER_PRUNE=on where the engine is berth's alone";

export interface HygieneOptions {
  dryRun?: boolean;
  /** Overrides every product's keepReleases. */
  keep?: number;
  /** Only these products (default: every product file). */
  products?: string[];
  skip?: CleanupName[];
  buildCacheCap?: string;
  /** Prune the engine's build cache (BERTH_HYGIENE_BUILDER_PRUNE); default: the setting. */
  builderPrune?: boolean;
  diskThreshold?: number;
  webhookUrl?: string;
  /** Where the daemon's defaults live, for the report. */
  daemonJson?: string;
  hostMemoryBytes?: number;
}

/** One Slack-compatible message through lib/report/webhook.mts: redacted, and the URL (it carries the
 *  hook's token) never printed, only its origin. */
export async function sendAlert(url: string, text: string, env: NodeJS.ProcessEnv = process.env): Promise<{ ok: boolean; detail: string }> {
  const origin = webhookOrigin(url);
  if (!origin) return { ok: false, detail: 'BERTH_WEBHOOK_URL is not an http(s) URL' };
  const failure = await postWebhook(url, { text: makeRedactor(env, [url])(text), attachments: [] });
  return failure ? { ok: false, detail: `webhook ${origin} failed (${failure})` } : { ok: true, detail: `sent to ${origin}` };
}

export async function runHygiene(runner: Runner, ui: Ui, settings: Settings, options: HygieneOptions = {}): Promise<HygieneReport> {
  const skip = new Set(options.skip ?? []);
  const catalogue = await loadCatalogue(settings, options.products);
  const engine: EngineInfo = await checkEngine(runner);
  const loaded = catalogue.filter((e): e is CatalogueEntry & { product: Product } => Boolean(e.product));
  const keepOf = (product: Product) => options.keep ?? product.def.keepReleases ?? DEFAULT_KEEP;
  const report: HygieneReport = {
    host: hostname(),
    time: new Date().toISOString(),
    dryRun: Boolean(options.dryRun),
    products: catalogue.map((e) =>
      e.product
        ? { product: e.name, state: 'checked', keep: keepOf(e.product) }
        : e.absent
          ? { product: e.name, state: 'skipped', reason: `not deployed here (${e.problem})` }
          : { product: e.name, state: 'skipped', reason: `its product file is wrong (${e.problem})` },
    ),
    cleanups: [],
    keptImages: [],
    logs: { daemonDriver: '', daemonLogOpts: '', findings: [] },
    alerts: [],
  };

  let containers: (ContainerHost & { product: string })[] = [];
  let inUse = new Set<string>();
  let keep: KeepSet = { ids: new Map(), digests: new Set() };
  let ready: string | undefined;
  try {
    containers = await containersOf(runner, catalogue);
    inUse = await imagesInUse(runner);
    keep = imagesToKeep(
      loaded.map((e) => {
        const records = readLedger(e.product.stateDir);
        const n = keepOf(e.product);
        const entry = report.products.find((p) => p.product === e.name);
        if (entry) entry.keptReleases = keptReleases(records, n);
        return { product: e.name, records, keep: n, running: containers.filter((c) => c.product === e.name).map((c) => c.imageId) };
      }),
    );
  } catch (error) {
    // Without knowing what to keep, nothing may be removed; the reports below still run.
    ready = errorMessage(error);
  }

  const cleanupOptions = { dryRun: options.dryRun, buildCacheCap: options.buildCacheCap ?? DEFAULT_BUILD_CACHE_CAP };
  const cleanups: [CleanupName, () => Promise<CleanupResult>][] = [
    [
      'images',
      () =>
        cleanImages(
          runner,
          ui,
          loaded.map((e) => e.product),
          report,
          cleanupOptions,
          inUse,
          keep,
        ),
    ],
    ['dangling', () => cleanDangling(runner, keep, inUse, cleanupOptions)],
    ['build-cache', () => pruneBuildCache(runner, cleanupOptions)],
  ];
  const builderPrune = options.builderPrune ?? settings.hygieneBuilderPrune;
  for (const [name, clean] of cleanups) {
    if (skip.has(name)) {
      report.cleanups.push({ name, state: 'skipped', summary: 'skipped (--skip)', removed: [], failed: [] });
      continue;
    }
    if (name === 'build-cache' && !builderPrune) {
      report.cleanups.push({ name, state: 'skipped', summary: BUILDER_PRUNE_OFF, removed: [], failed: [] });
      continue;
    }
    if (ready !== undefined && name !== 'build-cache') {
      report.cleanups.push({
        name,
        state: 'failed',
        summary: `not run: cannot tell which images to keep (${ready})`,
        removed: [],
        failed: [],
        error: ready,
      });
      continue;
    }
    const step = ui.step(`hygiene: ${name}`);
    try {
      const result = await clean();
      if (result.failed.length > 0) result.state = 'failed';
      report.cleanups.push(result);
      if (result.state === 'failed') step.fail(`${result.summary}; ${result.failed.length} could not be removed`);
      else step.succeed(result.summary);
    } catch (error) {
      report.cleanups.push({ name, state: 'failed', summary: errorMessage(error), removed: [], failed: [], error: errorMessage(error) });
      step.fail(errorMessage(error));
    }
  }

  const composeFilesOf = (name: string) => loaded.find((e) => e.name === name)?.product.composeFiles.join(', ');
  report.logs = await auditLogs(runner, containers, composeFilesOf, options.daemonJson ?? '/etc/docker/daemon.json');
  try {
    report.disk = await auditDisk(runner, engine.rootDir, options.diskThreshold ?? DEFAULT_DISK_THRESHOLD);
  } catch (error) {
    report.alerts.push(`disk use unknown: ${errorMessage(error)}`);
  }
  report.memory = memoryReport(containers, options.hostMemoryBytes ?? totalmem());

  for (const cleanup of report.cleanups.filter((c) => c.state === 'failed')) {
    const failures = cleanup.failed.map((f) => `${f.ref}: ${f.error}`);
    report.alerts.push(`${cleanup.name} cleanup failed: ${cleanup.error ?? failures.join('; ')}`);
  }
  if (report.logs.error) report.alerts.push(`log rotation not checked: ${report.logs.error}`);
  // A product file that does not load is a problem to fix, not a product this VM lacks: its images
  // were left alone, unchecked, until it loads again.
  for (const e of catalogue.filter((entry) => !entry.product && !entry.absent)) {
    report.alerts.push(`${e.name} not checked: ${e.problem}${e.fix ? `: ${e.fix}` : ''}`);
  }
  if (report.disk?.over) {
    report.alerts.push(
      `disk ${report.disk.path} is ${report.disk.usedPercent}% full (threshold ${report.disk.threshold}%, ${formatBytes(report.disk.freeBytes)} free)`,
    );
  }
  if (report.alerts.length > 0 && options.webhookUrl && !options.dryRun) {
    report.notified = await sendAlert(options.webhookUrl, `berth hygiene on ${report.host}: ${report.alerts.join('; ')}`, settings.env);
  }
  return report;
}
