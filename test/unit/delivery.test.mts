// Every delivery metric on crafted ledgers whose answers are worked out by hand in each case.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Settings } from '../../lib/config/load.mts';
import { createRunner } from '../../lib/core/runner.mts';
import { silentUi, type Ui } from '../../lib/core/ui.mts';
import { collectReport } from '../../lib/ops/report.mts';
import { readLedgerLines, type ReleaseRecord } from '../../lib/releases/ledger.mts';
import { deliveryReport, parseSpan, percentile, productReport } from '../../lib/report/delivery.mts';
import { unusableRecord } from '../../lib/report/delivery-facts.mts';
import type { DeliveryReport, ProductHistory } from '../../lib/report/delivery-model.mts';
import { formatDelivery } from '../../lib/report/delivery-text.mts';
import type { DeployLogRecord } from '../../lib/report/metrics.mts';
import { renderPage } from '../../lib/report/page.mts';

const NOW = new Date('2026-06-30T00:00:00Z');
const DAY = 86_400_000;
const MIN = 60_000;
/** A 10-day window ending NOW. */
const WINDOW = { since: new Date(NOW.getTime() - 10 * DAY), until: NOW };
/** `daysAgo` days (plus `minutes`) before NOW, as a ledger time. */
const at = (daysAgo: number, minutes = 0) => new Date(NOW.getTime() - daysAgo * DAY + minutes * MIN).toISOString();
const sha = (n: number) => n.toString(16).padStart(40, 'a');

function rec(tag: string, time: string, fields: Partial<ReleaseRecord> = {}): ReleaseRecord {
  return {
    time,
    who: 'ops',
    host: 'vm',
    product: 'app',
    tag,
    kind: 'deploy',
    result: 'ok',
    services: { web: { image: `r/app-web:${tag}`, id: `sha256:${tag}`, digest: `r/app-web@sha256:${tag}` } },
    changed: ['web'],
    durationsMs: { pull: 1000, up: 2000 },
    ...fields,
  };
}

const report = (records: ReleaseRecord[], extra: Partial<ProductHistory> = {}) =>
  productReport({ product: 'app', records, ...extra }, WINDOW);

/** Every number anywhere in the report, to prove none is NaN or infinite. */
function numbers(value: unknown): number[] {
  if (typeof value === 'number') return [value];
  if (value && typeof value === 'object') return Object.values(value).flatMap(numbers);
  return [];
}

describe('delivery metrics', () => {
  it('percentiles are nearest-rank, null without samples; spans parse', () => {
    expect(percentile([10, 20, 30, 40], 0.5)).toBe(20);
    expect(percentile([10, 20, 30, 40], 0.95)).toBe(40);
    expect(percentile([7], 0.95)).toBe(7);
    expect(percentile([], 0.5)).toBeNull();
    expect([parseSpan('30d'), parseSpan('12h'), parseSpan('2w'), parseSpan('0d'), parseSpan('3 days')]).toEqual([
      30 * DAY,
      12 * 3600_000,
      14 * DAY,
      undefined,
      undefined,
    ]);
  });

  it('an empty history says "no deploys yet", and no number is NaN', () => {
    const empty = deliveryReport([{ product: 'app', records: [] }], WINDOW, undefined, NOW);
    expect(empty.empty).toBe(true);
    expect(empty.total).toMatchObject({ deploys: 0, deploysPerDay: 0, changeFailureRate: null, restoreP50Ms: null, leadTimeP50Ms: null });
    expect(numbers(empty).every(Number.isFinite)).toBe(true);
    expect(formatDelivery(empty).join('\n')).toContain('no deploys yet');
    expect(renderPage(empty)).toContain('no deploys yet');
    expect(`${formatDelivery(empty).join('\n')}${renderPage(empty)}`).not.toMatch(/NaN|Infinity/);
  });

  it('no failures: frequency, a zero failure rate, no incident, duration p50/p95 and the step split', () => {
    const records = [1, 2, 3, 4].map((n) => rec(sha(n), at(10 - 2 * n), { durationsMs: { pull: n * 1000, up: n * 9000 } }));
    const m = report(records).metrics;
    // 4 deploys in 10 days.
    expect(m).toMatchObject({ deploys: 4, ok: 4, deploysPerDay: 0.4, deploysPerWeek: 2.8, changeFailures: 0, changeFailureRate: 0 });
    expect(m.restore).toEqual({ samples: 0, p50Ms: null, p95Ms: null, open: 0 });
    // Totals 10, 20, 30, 40 s (no total recorded: the sum of the steps).
    expect(m.duration).toMatchObject({ samples: 4, p50Ms: 20_000, p95Ms: 40_000 });
    expect(m.duration.steps).toEqual({ pull: { p50Ms: 2000, p95Ms: 4000 }, up: { p50Ms: 18_000, p95Ms: 36_000 } });
    expect(m.rollbacks).toMatchObject({ manual: 0, auto: 0, samples: 0 });
  });

  it('only failures: a failure rate of 1 and one incident still open (no restore time)', () => {
    const records = [1, 2, 3].map((n) => rec(sha(n), at(5, n), { result: 'failed', error: 'health: timed out' }));
    const m = report(records).metrics;
    expect(m).toMatchObject({ deploys: 3, ok: 0, changeFailures: 3, changeFailureRate: 1, restoreP50Ms: null });
    expect(m.restore).toMatchObject({ samples: 0, open: 1 });
    expect(report(records).timeline.map((t) => t.outcome)).toEqual(['failed', 'failed', 'failed']);
  });

  it('an automatic rollback: the release fails, the restore is the undo (to the auto-rollback record)', () => {
    const records = [
      rec(sha(1), at(3)),
      rec(sha(2), at(2), { result: 'rolled-back', error: 'smoke failed' }),
      rec(sha(1), at(2, 0.5), { kind: 'auto-rollback', changed: ['web'] }),
    ];
    const m = report(records).metrics;
    expect(m).toMatchObject({ deploys: 2, changeFailures: 1, changeFailureRate: 0.5, restoreP50Ms: 30_000 });
    expect(m.rollbacks).toMatchObject({ manual: 0, auto: 1 });
    // The auto-rollback record repeats the failed deploy's timings: not a duration of its own.
    expect(report(records).timeline.map((t) => t.durationMs)).toEqual([3000, 3000, null]);
  });

  it('a rollback chain counts the release it undid once, restored at the first rollback', () => {
    const records = [
      rec(sha(1), at(6)),
      rec(sha(2), at(5)),
      rec(sha(3), at(4)),
      rec(sha(2), at(4, 10), { kind: 'rollback', durationsMs: { total: 4000 } }),
      rec(sha(1), at(4, 20), { kind: 'rollback', durationsMs: { total: 6000 } }),
    ];
    const r = report(records);
    expect(r.metrics).toMatchObject({ deploys: 3, changeFailures: 1, changeFailureRate: 0.3333, restoreP50Ms: 10 * MIN });
    expect(r.metrics.rollbacks).toMatchObject({ manual: 2, auto: 0, samples: 2, p50Ms: 4000, p95Ms: 6000 });
    expect(r.timeline.map((t) => [t.tag, t.outcome])).toEqual([
      [sha(1), 'ok'],
      [sha(2), 'ok'],
      [sha(3), 'rolled-back'],
      [sha(2), 'rollback'],
      [sha(1), 'rollback'],
    ]);
    expect(r.timeline[2]?.rolledBackAt).toBe(at(4, 10));
  });

  it('a manual rollback after the window (24 h) leaves the release a success', () => {
    const records = [rec(sha(1), at(6)), rec(sha(2), at(5)), rec(sha(1), at(3), { kind: 'rollback' })];
    expect(report(records).metrics).toMatchObject({ changeFailures: 0, changeFailureRate: 0, restoreP50Ms: null });
    // A window of 3 days makes the same rollback count.
    const wide = productReport({ product: 'app', records }, WINDOW, 3 * DAY);
    expect(wide.metrics).toMatchObject({ changeFailures: 1, restoreP50Ms: 2 * DAY });
  });

  it('a failed attempt between a release and its manual rollback: the rollback still names the release that ran', () => {
    const records = [
      rec(sha(1), at(6)),
      rec(sha(2), at(5)),
      rec(sha(3), at(5, 30), { result: 'failed' }),
      rec(sha(1), at(5, 60), { kind: 'rollback' }),
    ];
    const r = report(records);
    expect(r.timeline.map((t) => t.outcome)).toEqual(['ok', 'rolled-back', 'failed', 'rollback']);
    // One incident from sha(2) going live to the rollback: 60 minutes.
    expect(r.metrics).toMatchObject({ deploys: 3, changeFailures: 2, restoreP50Ms: 60 * MIN });
    expect(r.metrics.restore.samples).toBe(1);
  });

  it('lead time: commit to first going live; a release deployed twice gives one sample and two deploys', () => {
    const commitTimes = { [sha(1)]: at(4, -30), [sha(2)]: at(3, -90) };
    const records = [rec(sha(1), at(4)), rec(sha(2), at(3)), rec(sha(1), at(2), { changed: ['web'] })];
    const m = report(records, { commitTimes }).metrics;
    expect(m.deploys).toBe(3);
    expect(m.leadTime).toEqual({ samples: 2, p50Ms: 30 * MIN, p95Ms: 90 * MIN });
    // Redeploying what runs already (nothing changed) is not a deploy.
    const again = report([...records, rec(sha(1), at(1), { changed: [] })], { commitTimes });
    expect(again.metrics.deploys).toBe(3);
    expect(again.timeline.at(-1)?.outcome).toBe('unchanged');
  });

  it('lead time without the repo: the commit time each deploy recorded; git, when it answers, wins', () => {
    const records = [rec(sha(1), at(4), { committedAt: at(4, -45) }), rec(sha(2), at(3), { committedAt: at(3, -15) })];
    expect(report(records).metrics.leadTime).toEqual({ samples: 2, p50Ms: 15 * MIN, p95Ms: 45 * MIN });
    expect(report(records, { commitTimes: { [sha(1)]: at(4, -5) } }).metrics.leadTime).toEqual({
      samples: 2,
      p50Ms: 5 * MIN,
      p95Ms: 15 * MIN,
    });
  });

  it('clock skew: lines dated before a line above them are counted, and no difference goes negative', () => {
    const commitTimes = { [sha(2)]: at(4, 30) };
    const records = [
      rec(sha(1), at(4, 10)),
      // Written after sha(1) by a host whose clock is 20 minutes behind, and committed "after" it went live.
      rec(sha(2), at(4, -10)),
      rec(sha(1), at(4, -5), { kind: 'rollback' }),
    ];
    const m = report(records, { commitTimes }).metrics;
    // Both later lines are dated before the first one.
    expect(m.clockSkew).toBe(2);
    expect(m.leadTime).toMatchObject({ samples: 1, p50Ms: 0 });
    expect(m).toMatchObject({ changeFailures: 1, restoreP50Ms: 5 * MIN });
    expect(numbers(m).every((n) => Number.isFinite(n) && n >= 0)).toBe(true);
  });

  it('the deploy log gives the total and every step; its failures without a release are refused, not change failures', () => {
    const records = [rec(sha(1), at(2), { durationsMs: { pull: 1000 } })];
    const log: DeployLogRecord[] = [
      {
        time: at(2, 0.2),
        command: 'deploy',
        who: 'ops',
        host: 'vm',
        product: 'app',
        tag: sha(1),
        result: 'ok',
        changed: ['web'],
        durationsMs: { pull: 1000, up: 3000, record: 50, total: 4500 },
      },
      {
        time: at(1),
        command: 'deploy',
        who: 'ops',
        host: 'vm',
        product: 'app',
        tag: sha(2),
        result: 'failed',
        changed: [],
        durationsMs: { total: 300 },
        failedStep: 'plan',
      },
    ];
    const m = report(records, { log }).metrics;
    expect(m.duration).toMatchObject({ samples: 1, p50Ms: 4500 });
    expect(Object.keys(m.duration.steps)).toEqual(['pull', 'up', 'record']);
    expect(m).toMatchObject({ deploys: 1, refused: 1, changeFailureRate: 0 });
  });

  it('the trend compares with the window before; the total pools every product', () => {
    const a = [rec(sha(1), at(15)), rec(sha(2), at(12), { result: 'failed' }), rec(sha(3), at(5))];
    const b = [rec(sha(4), at(3), { product: 'other' }), rec(sha(5), at(1), { product: 'other', result: 'failed' })];
    const r: DeliveryReport = deliveryReport(
      [
        { product: 'app', records: a },
        { product: 'other', records: b },
      ],
      WINDOW,
      undefined,
      NOW,
    );
    expect(r.products[0]?.previous).toMatchObject({ deploys: 2, deploysPerDay: 0.2, changeFailureRate: 0.5 });
    expect(r.products[0]?.metrics).toMatchObject({ deploys: 1, changeFailureRate: 0 });
    expect(r.total).toMatchObject({ deploys: 3, changeFailures: 1, changeFailureRate: 0.3333, deploysPerDay: 0.3 });
    expect(r.previousTotal).toMatchObject({ deploys: 2, changeFailureRate: 0.5 });
    expect(formatDelivery(r).join('\n')).toMatch(/failure rate -16\.7% vs before/);
  });

  it('image sizes per service and release, flagged over the budget; rollback targets by what the ledger recorded', () => {
    const sized = (n: number, bytes: number, fields: Partial<ReleaseRecord> = {}) =>
      rec(sha(n), at(8 - n), {
        services: { web: { image: 'w', id: `sha256:${n}`, digest: `r/w@sha256:${n}`, sizeBytes: bytes } },
        ...fields,
      });
    const records = [
      sized(1, 400e6),
      sized(2, 450e6),
      sized(3, 520e6),
      sized(4, 530e6, { services: { web: { image: 'w', sizeBytes: 530e6 } } }),
    ];
    const r = report(records, { budgets: { web: 500 }, keepReleases: 2 });
    expect(r.images).toEqual([
      {
        service: 'web',
        budgetMb: 500,
        over: true,
        points: records.map((x) => ({ tag: x.tag, time: x.time, sizeBytes: x.services.web?.sizeBytes })),
      },
    ]);
    // sha(4) runs; hygiene keeps 2 releases: sha(3) locally, the older ones only by digest.
    expect(r.rollbackTargets.map((t) => [t.tag, t.source])).toEqual([
      [sha(3), 'local'],
      [sha(2), 'registry'],
      [sha(1), 'registry'],
    ]);
    expect(
      formatDelivery(deliveryReport([{ product: 'app', records, budgets: { web: 500 } }], WINDOW, undefined, NOW)).join('\n'),
    ).toContain('image web: 400.0 MB -> 450.0 MB -> 520.0 MB -> 530.0 MB (budget 500 MB, OVER)');
  });
});

describe('reading ledgers for the report', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-delivery-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('skips malformed and truncated lines with a warning naming the file and line, and reports the rest', async () => {
    const productsDir = join(dir, 'products');
    const state = join(dir, 'state', 'app');
    mkdirSync(productsDir, { recursive: true });
    mkdirSync(state, { recursive: true });
    mkdirSync(join(dir, 'repo'));
    writeFileSync(join(dir, 'repo', 'compose.yaml'), 'services: {}\n');
    writeFileSync(
      join(productsDir, 'app.mts'),
      `export default { name: 'app', repo: 'repo', composeFiles: ['compose.yaml'], services: { web: { kind: 'http', maxImageMb: 300 } } };\n`,
    );
    const good = rec(sha(1), at(1));
    const text = [
      JSON.stringify(good),
      JSON.stringify(rec(sha(2), at(0.5))).slice(0, 40),
      '[1,2]',
      JSON.stringify({ ...rec(sha(3), at(0.4)), time: 'yesterday' }),
      '',
      JSON.stringify(rec(sha(4), at(0.3), { result: 'failed' })),
    ].join('\n');
    writeFileSync(join(state, 'releases.jsonl'), text);
    const file = join(state, 'releases.jsonl');
    expect(readLedgerLines(state, unusableRecord).skipped).toEqual([
      { file, line: 2, reason: 'not JSON (truncated or edited by hand)' },
      { file, line: 3, reason: 'not a release record' },
      { file, line: 4, reason: 'no valid time' },
    ]);
    const warnings: string[] = [];
    const ui: Ui = { ...silentUi(), warn: (m) => warnings.push(m) };
    const settings = {
      productsDir,
      stateDir: join(dir, 'state'),
      workspace: dir,
      registry: '127.0.0.1:5999',
      env: { BERTH_DEPLOY_LOG: 'off' },
    } as unknown as Settings;
    const result = await collectReport(createRunner({ ui }), settings, undefined, { spanMs: 10 * DAY, now: NOW }, ui);
    expect(warnings).toEqual([
      `${file}:2: skipped (not JSON (truncated or edited by hand))`,
      `${file}:3: skipped (not a release record)`,
      `${file}:4: skipped (no valid time)`,
    ]);
    expect(result.products[0]?.metrics).toMatchObject({ deploys: 2, changeFailures: 1, changeFailureRate: 0.5 });
  });
});
