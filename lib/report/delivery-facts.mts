// What one product's history says, record by record: each ledger record's outcome, whether it was
// a change failure (failed, rolled back automatically, or undone by a manual rollback in time),
// its timings from the deploy-log line its run wrote, and the incidents the failures opened. Every
// delivery metric is counted from these facts; the rules are the ones delivery.mts states.
import type { ReleaseRecord } from '../releases/ledger.mts';
import type { Outcome, ProductHistory } from './delivery-model.mts';
import type { DeployLogRecord } from './metrics.mts';

/** A deploy-log line belongs to a ledger record of the same product and tag written this close to it. */
const LOG_MATCH_MS = 15 * 60_000;

const DEPLOY_KINDS = new Set(['deploy', 'build-on-vm']);
export const isDeploy = (r: ReleaseRecord) => DEPLOY_KINDS.has(r.kind);
const unchanged = (r: ReleaseRecord) => r.result === 'ok' && (r.changed?.length ?? 0) === 0;

/** Why a parsed ledger line cannot be used, or undefined: a reader skips it with a warning. */
export function unusableRecord(value: object): string | undefined {
  const r = value as Partial<ReleaseRecord>;
  if (typeof r.time !== 'string' || Number.isNaN(Date.parse(r.time))) return 'no valid time';
  if (typeof r.tag !== 'string') return 'no tag';
  if (typeof r.kind !== 'string' || typeof r.result !== 'string') return 'no kind or result';
  return undefined;
}

/** What one history says, record by record: the facts every metric is counted from. */
export interface Fact {
  record: ReleaseRecord;
  at: number;
  skewed: boolean;
  outcome: Outcome;
  changeFailure: boolean;
  rolledBackAt?: number;
  durationMs: number | null;
  steps: Record<string, number>;
  /** First ok deploy of its tag in the whole ledger. */
  firstLive: boolean;
}

export interface Incident {
  start: number;
  end?: number;
}

function durationsOf(record: ReleaseRecord, logLine: DeployLogRecord | undefined): { total: number | null; steps: Record<string, number> } {
  const source = logLine?.durationsMs ?? record.durationsMs ?? {};
  const steps: Record<string, number> = {};
  for (const [step, ms] of Object.entries(source)) if (step !== 'total' && Number.isFinite(ms)) steps[step] = ms;
  const total = source.total ?? (Object.keys(steps).length > 0 ? Object.values(steps).reduce((a, b) => a + b, 0) : null);
  return { total: total !== null && Number.isFinite(total) ? total : null, steps };
}

/** The deploy-log line written at the end of each ledger record's run; the rest are runs that wrote no release. */
function matchLog(
  records: ReleaseRecord[],
  log: DeployLogRecord[],
): { matched: (DeployLogRecord | undefined)[]; unmatched: DeployLogRecord[] } {
  const used = new Set<number>();
  // By tag first: a year of deploys is thousands of lines on each side.
  const byTag = new Map<string, number[]>();
  log.forEach((line, i) => byTag.set(line.tag, [...(byTag.get(line.tag) ?? []), i]));
  const matched = records.map((record) => {
    if (record.kind === 'auto-rollback') return undefined;
    const at = Date.parse(record.time);
    let best = -1;
    let bestGap = Infinity;
    (byTag.get(record.tag) ?? []).forEach((i) => {
      const line = log[i] as DeployLogRecord;
      if (used.has(i)) return;
      const gap = Date.parse(line.time) - at;
      // The log line follows its release by the steps after `record`; a little before is skew.
      if (gap < -60_000 || gap > LOG_MATCH_MS || Math.abs(gap) >= bestGap) return;
      best = i;
      bestGap = Math.abs(gap);
    });
    if (best < 0) return undefined;
    used.add(best);
    return log[best];
  });
  return { matched, unmatched: log.filter((_, i) => !used.has(i)) };
}

export function factsOf(
  history: ProductHistory,
  rollbackWindowMs: number,
): { facts: Fact[]; incidents: Incident[]; unmatched: DeployLogRecord[] } {
  const records = history.records;
  const { matched, unmatched } = matchLog(records, history.log ?? []);
  const seenLive = new Set<string>();
  let last = -Infinity;
  const facts: Fact[] = records.map((record, i) => {
    const parsed = Date.parse(record.time);
    const skewed = parsed < last;
    last = Math.max(last, parsed);
    // An auto-rollback record carries the timings of the deploy it undid, not its own.
    const { total, steps } = record.kind === 'auto-rollback' ? { total: null, steps: {} } : durationsOf(record, matched[i]);
    const deploy = isDeploy(record);
    const outcome: Outcome = !deploy
      ? 'rollback'
      : record.result === 'failed'
        ? 'failed'
        : record.result === 'rolled-back'
          ? 'rolled-back'
          : unchanged(record)
            ? 'unchanged'
            : 'ok';
    const firstLive = deploy && record.result === 'ok' && !seenLive.has(record.tag);
    if (deploy && record.result === 'ok') seenLive.add(record.tag);
    return {
      record,
      at: parsed,
      skewed,
      outcome,
      changeFailure: outcome === 'failed' || outcome === 'rolled-back',
      durationMs: total,
      steps,
      firstLive,
    };
  });
  // A manual rollback fails the deploy that ran when it started: earlier rollbacks in a chain
  // and attempts that failed (the deploy before them kept running) are walked past.
  facts.forEach((fact, i) => {
    if (fact.record.kind !== 'rollback' || fact.record.result !== 'ok') return;
    for (let j = i - 1; j >= 0; j--) {
      const before = facts[j] as Fact;
      if (!isDeploy(before.record) || before.record.result !== 'ok' || before.outcome === 'unchanged') continue;
      if (Math.max(0, fact.at - before.at) <= rollbackWindowMs && before.rolledBackAt === undefined) {
        before.changeFailure = true;
        before.outcome = 'rolled-back';
        before.rolledBackAt = fact.at;
      }
      break;
    }
  });
  const incidents: Incident[] = [];
  let open: Incident | undefined;
  for (const fact of facts) {
    if (fact.changeFailure) {
      open ??= { start: fact.at };
      if (!incidents.includes(open)) incidents.push(open);
    } else if (open && fact.record.result === 'ok' && fact.outcome !== 'unchanged') {
      open.end = Math.max(open.start, fact.at);
      open = undefined;
    }
  }
  return { facts, incidents, unmatched };
}
