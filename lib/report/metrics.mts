// What a deploy took, kept three ways: a table at the end of the run, one JSON line per product
// deploy in a log (BERTH_DEPLOY_LOG, default <state dir>/deploys.jsonl), and, when
// BERTH_PROMETHEUS_TEXTFILE names a file, gauges for node_exporter's textfile collector.
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import type { DeployResult } from '../deploy/deploy-product.mts';
import { writeFileAtomic } from '../releases/atomic.mts';
import { whoAmI } from '../releases/lock.mts';
import { readSetting } from '../core/settings.mts';
import { formatSeconds, type Ui } from '../core/ui.mts';
import { formatTable } from './table.mts';
import { errorMessage } from '../core/errors.mts';
import { readJsonLines } from '../core/json-lines.mts';
import { readLedger } from '../releases/ledger.mts';
import { productReport } from './delivery.mts';
import type { ProductReport } from './delivery-model.mts';

/** A product's deploy as the summary, the log, the textfile and the webhook see it. */
export interface DeployOutcome extends DeployResult {
  /** The step that failed; 'plan' when the product failed before any step (bad product file). */
  failedStep?: string;
}

export interface RunMeta {
  /** 'deploy' or 'deploy-all'. */
  command: string;
  who: string;
  host: string;
  dryRun?: boolean;
}

export function runMeta(command: string, dryRun?: boolean): RunMeta {
  return { command, who: whoAmI(), host: hostname(), ...(dryRun ? { dryRun } : {}) };
}

/** The step a failed pipeline stopped at: the last one it timed. */
export function lastTimedStep(timings: Record<string, number>): string | undefined {
  return Object.keys(timings)
    .filter((k) => k !== 'total')
    .at(-1);
}

export function outcomeLabel(outcome: DeployOutcome): string {
  if (outcome.result === 'ok' && outcome.changed.length === 0) return 'unchanged';
  return outcome.result;
}

/** One row per product, one column per step any product ran, seconds; '-' where a step did not run. */
export function timingTable(outcomes: DeployOutcome[]): string[] {
  const steps: string[] = [];
  for (const o of outcomes) for (const step of Object.keys(o.durationsMs)) if (step !== 'total' && !steps.includes(step)) steps.push(step);
  // A product settled by its plan alone has only 'plan': it goes first, where planning happens.
  steps.sort((x, y) => Number(y === 'plan') - Number(x === 'plan'));
  const header = ['product', 'result', 'changed', ...steps, 'total'];
  const rows = outcomes.map((o) => [
    o.product,
    outcomeLabel(o),
    o.changed.join(',') || '-',
    ...steps.map((s) => (o.durationsMs[s] === undefined ? '-' : formatSeconds(o.durationsMs[s]))),
    o.durationsMs.total === undefined ? '-' : formatSeconds(o.durationsMs.total),
  ]);
  const failures = outcomes.filter((o) => o.error).map((o) => `${o.product}: ${o.failedStep ? `${o.failedStep}: ` : ''}${o.error}`);
  return [...formatTable([header, ...rows]), ...failures];
}

export interface DeployLogRecord {
  time: string;
  command: string;
  who: string;
  host: string;
  product: string;
  tag: string;
  result: string;
  changed: string[];
  durationsMs: Record<string, number>;
  failedStep?: string;
  error?: string;
}

export function logRecord(outcome: DeployOutcome, meta: RunMeta, time = new Date()): DeployLogRecord {
  return {
    time: time.toISOString(),
    command: meta.command,
    who: meta.who,
    host: meta.host,
    product: outcome.product,
    tag: outcome.tag,
    result: outcomeLabel(outcome),
    changed: outcome.changed,
    durationsMs: outcome.durationsMs,
    ...(outcome.failedStep ? { failedStep: outcome.failedStep } : {}),
    ...(outcome.error ? { error: outcome.error } : {}),
  };
}

/** undefined when logging is switched off (BERTH_DEPLOY_LOG=off). */
export function deployLogPath(env: NodeJS.ProcessEnv, stateDir: string): string | undefined {
  const configured = readSetting(env, 'deployLog');
  if (configured === false) return undefined;
  return configured ?? join(stateDir, 'deploys.jsonl');
}

export function appendDeployLog(path: string, records: DeployLogRecord[]): void {
  if (records.length === 0) return;
  mkdirSync(dirname(path), { recursive: true });
  // One write of whole lines with O_APPEND: concurrent deploys never interleave inside a line.
  appendFileSync(path, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
}

export function readDeployLog(path: string): DeployLogRecord[] {
  return readDeployLogLines(path).records;
}

/** The log and the numbers of the lines that are not a record (a truncated write, an edit by hand). */
export function readDeployLogLines(path: string): { records: DeployLogRecord[]; skipped: number[] } {
  const { records, skipped } = readJsonLines<DeployLogRecord>(path, (value) => {
    const record = value as Partial<DeployLogRecord> | null;
    return record && typeof record.product === 'string' && typeof record.time === 'string' ? undefined : 'not a deploy record';
  });
  return { records, skipped: skipped.map((s) => s.line) };
}

const METRICS: Record<string, string> = {
  berth_deploy_last_timestamp_seconds: 'When the last deploy of the product ended, in Unix seconds.',
  berth_deploy_last_duration_seconds: 'Wall time of the last deploy of the product.',
  berth_deploy_last_success: '1 if the last deploy of the product succeeded, 0 if it failed.',
  berth_deploy_last_changed_services: 'Services the last deploy of the product replaced or started.',
  berth_deploy_last_step_duration_seconds: 'Wall time of each step of the last deploy of the product.',
  // The delivery report's metrics (lib/report/delivery.mts) over the last DELIVERY_WINDOW_DAYS days.
  berth_delivery_deploys_per_day: 'Deploys per day of the product over the last 30 days.',
  berth_delivery_change_failure_ratio: 'Share of the deploys of the last 30 days that failed or were rolled back (0 to 1).',
  berth_delivery_time_to_restore_seconds: 'Median time from a failed or rolled-back release to the next good one, last 30 days.',
  berth_delivery_lead_time_seconds: 'Median time from the commit of a released SHA to it going live, last 30 days.',
  berth_delivery_deploy_duration_seconds: 'Deploy wall time over the last 30 days, by quantile.',
  berth_delivery_rollbacks: 'Rollbacks in the last 30 days, by kind (manual or auto).',
  berth_image_size_bytes: 'Compressed size of the image each service of the product runs, from its registry manifest.',
};

export const DELIVERY_WINDOW_DAYS = 30;

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const escapeLabel = (v: string) => v.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');

export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)\s*$/.exec(line.trim());
    if (!match || line.startsWith('#')) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key as string] = (value as string).replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

export function samplesFor(record: DeployLogRecord): Sample[] {
  const product = { product: record.product };
  const ended = Date.parse(record.time) / 1000;
  return [
    { name: 'berth_deploy_last_timestamp_seconds', labels: product, value: Math.round(ended) },
    { name: 'berth_deploy_last_duration_seconds', labels: product, value: (record.durationsMs.total ?? 0) / 1000 },
    { name: 'berth_deploy_last_success', labels: product, value: record.result === 'failed' ? 0 : 1 },
    { name: 'berth_deploy_last_changed_services', labels: product, value: record.changed.length },
    ...Object.entries(record.durationsMs)
      .filter(([step]) => step !== 'total')
      .map(([step, ms]) => ({ name: 'berth_deploy_last_step_duration_seconds', labels: { ...product, step }, value: ms / 1000 })),
  ];
}

/** The delivery gauges of one product's report; a metric without a sample (no deploy yet) has no gauge rather than a NaN. */
export function deliverySamples(report: ProductReport): Sample[] {
  const product = { product: report.product };
  const m = report.metrics;
  const seconds = (ms: number | null) => (ms === null ? [] : [ms / 1000]);
  const gauge = (name: string, values: number[], labels: Record<string, string> = {}) =>
    values.map((value) => ({ name, labels: { ...product, ...labels }, value }));
  return [
    ...gauge('berth_delivery_deploys_per_day', [m.deploysPerDay]),
    ...gauge('berth_delivery_change_failure_ratio', m.changeFailureRate === null ? [] : [m.changeFailureRate]),
    ...gauge('berth_delivery_time_to_restore_seconds', seconds(m.restore.p50Ms)),
    ...gauge('berth_delivery_lead_time_seconds', seconds(m.leadTime.p50Ms)),
    ...gauge('berth_delivery_deploy_duration_seconds', seconds(m.duration.p50Ms), { quantile: '0.5' }),
    ...gauge('berth_delivery_deploy_duration_seconds', seconds(m.duration.p95Ms), { quantile: '0.95' }),
    ...gauge('berth_delivery_rollbacks', [m.rollbacks.manual], { kind: 'manual' }),
    ...gauge('berth_delivery_rollbacks', [m.rollbacks.auto], { kind: 'auto' }),
    ...report.images.flatMap((image) =>
      gauge(
        'berth_image_size_bytes',
        image.points.slice(-1).map((p) => p.sizeBytes),
        { service: image.service },
      ),
    ),
  ];
}

/** The delivery gauges of the products this run deployed, from their ledgers and the log. */
export function deliverySamplesFor(products: string[], stateDir: string, log: DeployLogRecord[], now = new Date()): Sample[] {
  const window = { since: new Date(now.getTime() - DELIVERY_WINDOW_DAYS * 86_400_000), until: now };
  return [...new Set(products)].flatMap((product) =>
    deliverySamples(
      productReport({ product, records: readLedger(join(stateDir, product)), log: log.filter((l) => l.product === product) }, window),
    ),
  );
}

/** The whole textfile: this run's products replace theirs, other products' samples stay. */
export function renderTextfile(existing: string, records: DeployLogRecord[], extra: Sample[] = []): string {
  const fresh = new Set(records.map((r) => r.product));
  const samples = [
    ...parseSamples(existing).filter((s) => s.name in METRICS && s.labels.product !== undefined && !fresh.has(s.labels.product)),
    ...records.flatMap(samplesFor),
    ...extra,
  ];
  const lines: string[] = [];
  for (const [name, help] of Object.entries(METRICS)) {
    const mine = samples.filter((s) => s.name === name).sort((a, b) => JSON.stringify(a.labels).localeCompare(JSON.stringify(b.labels)));
    if (mine.length === 0) continue;
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
    for (const s of mine) {
      const labels = Object.entries(s.labels)
        .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
        .join(',');
      lines.push(`${name}{${labels}} ${Number.isFinite(s.value) ? s.value : 0}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Read-merge-write under a short mkdir lock, so two deploys never drop each other's products. */
export async function updateTextfile(path: string, records: DeployLogRecord[], waitMs = 5_000, extra: Sample[] = []): Promise<void> {
  const lock = `${path}.lock`;
  mkdirSync(dirname(path), { recursive: true });
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // A writer holds it for milliseconds; one still there after the wait died holding it.
      if (Date.now() > deadline) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  try {
    const existing = existsSync(path) ? readFileSync(path, 'utf8') : '';
    writeFileAtomic(path, renderTextfile(existing, records, extra));
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Appends the log and updates the textfile; a failure to write either is a warning, never a failed deploy. */
export async function recordOutcomes(
  outcomes: DeployOutcome[],
  env: NodeJS.ProcessEnv,
  stateDir: string,
  meta: RunMeta,
  ui: Ui,
): Promise<void> {
  // A dry run changes nothing, not even the log.
  const records = outcomes.filter((o) => o.result !== 'dry-run').map((o) => logRecord(o, meta));
  if (records.length === 0) return;
  const log = deployLogPath(env, stateDir);
  if (log) {
    try {
      appendDeployLog(log, records);
    } catch (error) {
      ui.warn(`could not append to the deploy log ${log}: ${errorMessage(error)}`);
    }
  }
  const textfile = readSetting(env, 'prometheusTextfile');
  if (textfile) {
    if (!textfile.endsWith('.prom')) ui.warn(`BERTH_PROMETHEUS_TEXTFILE=${textfile}: node_exporter only reads files ending in .prom`);
    try {
      const delivery = deliverySamplesFor(
        records.map((r) => r.product),
        stateDir,
        log ? readDeployLog(log) : records,
      );
      await updateTextfile(textfile, records, undefined, delivery);
    } catch (error) {
      ui.warn(`could not write the Prometheus textfile ${textfile}: ${errorMessage(error)}`);
    }
  }
}
