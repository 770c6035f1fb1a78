// Delivery metrics from what berth already keeps: each product's release ledger (the order of its
// lines is the order things happened, whatever the clocks said) and the deploy log (every step's
// time, the total included). Pure: the caller reads the files and asks git for commit times.
//
// The rules, as the README's "Delivery report" states them:
// - a deploy is a ledger record of kind deploy or build-on-vm that changed something or failed;
// - it is a change failure when it failed, was rolled back automatically (result rolled-back), or
//   a manual rollback followed it within ROLLBACK_WINDOW_MS while it was the release running;
// - time to restore runs from the first failure (the failed record, or the bad release going live)
//   to the next record that ended well and is not itself a failure; an incident still open has none;
// - lead time runs from the commit time of the released SHA to the first time that SHA went live;
// - a time earlier than a line above it is clock skew: counted, and differences clamp at zero.
import { recordedReleases, shortTag } from '../releases/history.mts';
import { factsOf, isDeploy, type Fact, type Incident } from './delivery-facts.mts';
import type {
  DeliveryReport,
  ImagePoint,
  ImageTrend,
  KeyMetrics,
  Metrics,
  ProductHistory,
  ProductReport,
  RollbackTarget,
  Spread,
  Window,
} from './delivery-model.mts';

/** A manual rollback this soon after a deploy (while it still ran) makes that deploy a change failure. */
export const ROLLBACK_WINDOW_MS = 24 * 3600_000;
const MB = 1_000_000;

/** Nearest-rank percentile of sorted values; null for none. */
export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number;
}

export function spread(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  return { samples: sorted.length, p50Ms: percentile(sorted, 0.5), p95Ms: percentile(sorted, 0.95) };
}

function inWindow(at: number, window: Window): boolean {
  return at >= window.since.getTime() && at < window.until.getTime();
}

interface Counted {
  facts: Fact[];
  incidents: Incident[];
  leadTimes: number[];
  refused: number;
  days: number;
}

function measure(parts: Counted[]): Metrics {
  const facts = parts.flatMap((p) => p.facts);
  const days = parts[0]?.days ?? 1;
  const deploys = facts.filter((f) => isDeploy(f.record) && f.outcome !== 'unchanged');
  const failures = deploys.filter((f) => f.changeFailure).length;
  const incidents = parts.flatMap((p) => p.incidents);
  const durations = deploys.filter((f) => f.durationMs !== null);
  const stepNames = [...new Set(durations.flatMap((f) => Object.keys(f.steps)))];
  const steps: Metrics['duration']['steps'] = {};
  for (const step of stepNames) {
    const { p50Ms, p95Ms } = spread(durations.flatMap((f) => (f.steps[step] === undefined ? [] : [f.steps[step] as number])));
    steps[step] = { p50Ms, p95Ms };
  }
  const manual = facts.filter((f) => f.record.kind === 'rollback');
  const restore = spread(incidents.flatMap((i) => (i.end === undefined ? [] : [i.end - i.start])));
  const leadTime = spread(parts.flatMap((p) => p.leadTimes));
  const perDay = deploys.length / days;
  return {
    deploys: deploys.length,
    deploysPerDay: round(perDay),
    deploysPerWeek: round(perDay * 7),
    ok: deploys.filter((f) => !f.changeFailure).length,
    changeFailures: failures,
    changeFailureRate: deploys.length > 0 ? round(failures / deploys.length, 4) : null,
    restoreP50Ms: restore.p50Ms,
    leadTimeP50Ms: leadTime.p50Ms,
    restore: { ...restore, open: incidents.filter((i) => i.end === undefined).length },
    leadTime,
    duration: { ...spread(durations.map((f) => f.durationMs as number)), steps },
    rollbacks: {
      ...spread(manual.flatMap((f) => (f.durationMs === null ? [] : [f.durationMs]))),
      manual: manual.length,
      auto: facts.filter((f) => f.record.kind === 'auto-rollback').length,
    },
    refused: parts.reduce((n, p) => n + p.refused, 0),
    clockSkew: facts.filter((f) => f.skewed).length,
  };
}

function key(m: Metrics): KeyMetrics {
  return {
    deploys: m.deploys,
    deploysPerDay: m.deploysPerDay,
    changeFailureRate: m.changeFailureRate,
    restoreP50Ms: m.restoreP50Ms,
    leadTimeP50Ms: m.leadTimeP50Ms,
  };
}

function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function count(history: ProductHistory, all: ReturnType<typeof factsOf>, window: Window): Counted {
  const facts = all.facts.filter((f) => inWindow(f.at, window));
  const leadTimes = facts.flatMap((f) => {
    // git's answer when the report could ask it, else what the deploy recorded.
    const committed = f.firstLive ? (history.commitTimes?.[f.record.tag] ?? f.record.committedAt) : undefined;
    return committed ? [Math.max(0, f.at - Date.parse(committed))] : [];
  });
  return {
    facts,
    incidents: all.incidents.filter((i) => inWindow(i.start, window)),
    leadTimes,
    refused: all.unmatched.filter((l) => l.result === 'failed' && inWindow(Date.parse(l.time), window)).length,
    days: Math.max(1 / 24, (window.until.getTime() - window.since.getTime()) / 86_400_000),
  };
}

function imageTrends(history: ProductHistory, window: Window): ImageTrend[] {
  const byService = new Map<string, ImagePoint[]>();
  const seen = new Set<string>();
  for (const record of history.records) {
    if (record.result !== 'ok' || !inWindow(Date.parse(record.time), window)) continue;
    for (const [service, image] of Object.entries(record.services ?? {})) {
      if (typeof image?.sizeBytes !== 'number' || seen.has(`${service}\0${record.tag}`)) continue;
      seen.add(`${service}\0${record.tag}`);
      byService.set(service, [...(byService.get(service) ?? []), { tag: record.tag, time: record.time, sizeBytes: image.sizeBytes }]);
    }
  }
  const services = [...new Set([...byService.keys(), ...Object.keys(history.budgets ?? {})])].sort();
  return services.flatMap((service) => {
    const points = byService.get(service) ?? [];
    if (points.length === 0) return [];
    const budgetMb = history.budgets?.[service];
    const newest = points.at(-1)?.sizeBytes ?? 0;
    return [{ service, points, ...(budgetMb !== undefined ? { budgetMb } : {}), over: budgetMb !== undefined && newest > budgetMb * MB }];
  });
}

/** Releases a rollback can reach, judged from the ledger alone (`--check-images` asks the engine). */
function rollbackTargets(history: ProductHistory): RollbackTarget[] {
  const releases = recordedReleases(history.records);
  const current = history.records.findLast((r) => r.result === 'ok');
  const keep = history.keepReleases ?? 5;
  return releases
    .filter((r) => r.tag !== current?.tag)
    .map((release, i) => {
      const images = Object.values(release.services ?? {});
      // The current release is releases[0] when it is a recorded one: it takes one of the places.
      const kept = i + 1 < keep;
      const source =
        kept && images.every((s) => s.id) ? 'local' : images.length > 0 && images.every((s) => s.digest) ? 'registry' : 'missing';
      return { tag: release.tag, time: release.time, who: release.who, services: Object.keys(release.services ?? {}), source };
    });
}

export function productReport(history: ProductHistory, window: Window, rollbackWindowMs = ROLLBACK_WINDOW_MS): ProductReport {
  return productParts(history, window, rollbackWindowMs).report;
}

function previousWindow(window: Window): Window {
  const span = window.until.getTime() - window.since.getTime();
  return { since: new Date(window.since.getTime() - span), until: window.since };
}

function productParts(history: ProductHistory, window: Window, rollbackWindowMs: number) {
  const all = factsOf(history, rollbackWindowMs);
  const now = count(history, all, window);
  const before = count(history, all, previousWindow(window));
  const current = history.records.findLast((r) => r.result === 'ok');
  const report: ProductReport = {
    product: history.product,
    ...(current ? { current: { tag: current.tag, time: current.time, who: current.who } } : {}),
    metrics: measure([now]),
    previous: key(measure([before])),
    timeline: now.facts.map((f) => ({
      time: f.record.time,
      tag: f.record.tag,
      who: f.record.who,
      kind: f.record.kind,
      outcome: f.outcome,
      changeFailure: f.changeFailure,
      durationMs: f.durationMs,
      steps: f.steps,
      ...(f.rolledBackAt !== undefined ? { rolledBackAt: new Date(f.rolledBackAt).toISOString() } : {}),
      ...(f.record.error ? { error: f.record.error } : {}),
    })),
    images: imageTrends(history, window),
    rollbackTargets: rollbackTargets(history),
  };
  return { report, now, before };
}

export function deliveryReport(
  histories: ProductHistory[],
  window: Window,
  rollbackWindowMs = ROLLBACK_WINDOW_MS,
  generatedAt = new Date(),
): DeliveryReport {
  const parts = histories.map((h) => productParts(h, window, rollbackWindowMs));
  return {
    generatedAt: generatedAt.toISOString(),
    since: window.since.toISOString(),
    until: window.until.toISOString(),
    windowDays: round((window.until.getTime() - window.since.getTime()) / 86_400_000),
    rollbackWindowHours: round(rollbackWindowMs / 3600_000),
    total: measure(parts.map((p) => p.now)),
    previousTotal: key(measure(parts.map((p) => p.before))),
    products: parts.map((p) => p.report),
    empty: histories.every((h) => h.records.length === 0),
  };
}

/** `30d`, `12h`, `2w` -> milliseconds; undefined for anything else. */
export function parseSpan(text: string): number | undefined {
  const match = /^(\d+)([hdw])$/.exec(text.trim());
  if (!match) return undefined;
  const n = Number(match[1]);
  const unit = { h: 3600_000, d: 86_400_000, w: 7 * 86_400_000 }[match[2] as 'h' | 'd' | 'w'];
  return n > 0 ? n * unit : undefined;
}

export function formatDuration(ms: number | null): string {
  if (ms === null) return '-';
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  if (ms < 3600_000) return `${(ms / 60_000).toFixed(1)}m`;
  if (ms < 86_400_000) return `${(ms / 3600_000).toFixed(1)}h`;
  return `${(ms / 86_400_000).toFixed(1)}d`;
}

export function formatRate(rate: number | null): string {
  return rate === null ? '-' : `${(rate * 100).toFixed(1)}%`;
}

export function formatMb(bytes: number): string {
  return `${(bytes / MB).toFixed(1)} MB`;
}

export { shortTag };
