// `report`: the delivery metrics of every product (or the ones named), from the files berth keeps
// on the VM (each product's ledger, the deploy log) and, for lead time, the commit times git has
// in each product's checkout. No registry and no engine: it runs where the state directory is.
import { existsSync } from 'node:fs';
import { gitCommitTimes } from '../commands/git.mts';
import { loadCatalogue, type CatalogueEntry } from '../config/catalogue.mts';
import type { Settings } from '../config/load.mts';
import type { Runner } from '../core/runner.mts';
import type { Ui } from '../core/ui.mts';
import { readLedgerLines, type ReleaseRecord } from '../releases/ledger.mts';
import { deliveryReport, ROLLBACK_WINDOW_MS } from '../report/delivery.mts';
import { unusableRecord } from '../report/delivery-facts.mts';
import type { DeliveryReport, ProductHistory } from '../report/delivery-model.mts';
import { deployLogPath, readDeployLogLines, type DeployLogRecord } from '../report/metrics.mts';

export interface ReportOptions {
  /** The window's length, ending now. */
  spanMs: number;
  now?: Date;
  rollbackWindowMs?: number;
}

const FULL_SHA = /^[0-9a-f]{40}$/;

/** Commit times of the SHAs this ledger released, from the product's checkout; none without one. */
export async function commitTimes(runner: Runner, repoDir: string | undefined, records: ReleaseRecord[]): Promise<Record<string, string>> {
  const shas = [...new Set(records.filter((r) => r.result === 'ok' && FULL_SHA.test(r.tag)).map((r) => r.tag))];
  if (!repoDir || !existsSync(repoDir) || shas.length === 0) return {};
  const result = await runner.probe(gitCommitTimes(repoDir, shas));
  if (result.exitCode !== 0) return {};
  const times: Record<string, string> = {};
  for (const line of String(result.stdout).split('\n')) {
    const [sha, time] = line.trim().split(' ');
    if (sha && time && !Number.isNaN(Date.parse(time))) times[sha] = time;
  }
  return times;
}

function budgetsOf(entry: CatalogueEntry): Record<string, number> {
  const budgets: Record<string, number> = {};
  for (const [name, service] of Object.entries(entry.product?.services ?? {})) {
    if (service.maxImageMb !== undefined) budgets[name] = service.maxImageMb;
  }
  return budgets;
}

export async function collectReport(
  runner: Runner,
  settings: Settings,
  names: string[] | undefined,
  options: ReportOptions,
  ui: Ui,
): Promise<DeliveryReport> {
  const entries = await loadCatalogue(settings, names);
  const logFile = deployLogPath(settings.env, settings.stateDir);
  const log = logFile ? readDeployLogLines(logFile) : { records: [], skipped: [] };
  for (const line of log.skipped) ui.warn(`${logFile}:${line}: skipped (not a deploy-log record)`);
  const logOf = new Map<string, DeployLogRecord[]>();
  for (const record of log.records) logOf.set(record.product, [...(logOf.get(record.product) ?? []), record]);

  const histories: ProductHistory[] = [];
  for (const entry of entries) {
    const { records, skipped } = readLedgerLines(entry.stateDir, unusableRecord);
    for (const s of skipped) ui.warn(`${s.file}:${s.line}: skipped (${s.reason})`);
    histories.push({
      product: entry.name,
      records,
      log: logOf.get(entry.name) ?? [],
      commitTimes: await commitTimes(runner, entry.product?.repoDir, records),
      budgets: budgetsOf(entry),
      ...(entry.product?.def.keepReleases ? { keepReleases: entry.product.def.keepReleases } : {}),
    });
  }
  const now = options.now ?? new Date();
  return deliveryReport(
    histories,
    { since: new Date(now.getTime() - options.spanMs), until: now },
    options.rollbackWindowMs ?? ROLLBACK_WINDOW_MS,
    now,
  );
}
