import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { switchGroups } from '../../lib/ops/deploy-all.mts';
import { mapLimit } from '../../lib/core/pool.mts';
import {
  deployLogPath,
  lastTimedStep,
  logRecord,
  parseSamples,
  recordOutcomes,
  renderTextfile,
  timingTable,
  updateTextfile,
  type DeployOutcome,
  type RunMeta,
} from '../../lib/report/metrics.mts';
import { makeRedactor, notifyOutcomes, webhookBody, webhookOrigin, worthNotifying } from '../../lib/report/webhook.mts';
import type { Ui } from '../../lib/core/ui.mts';

const SHA = '3f2a91c0c0ffee00000000000000000000000001';
const META: RunMeta = { command: 'deploy-all', who: 'alice', host: 'vm1' };

function outcome(product: string, over: Partial<DeployOutcome> = {}): DeployOutcome {
  return { product, tag: SHA, result: 'ok', changed: ['web'], plan: {}, durationsMs: { preflight: 1200, pull: 300, total: 4321 }, ...over };
}

function recordingUi(): Ui & { lines: string[] } {
  const lines: string[] = [];
  const push = (kind: string) => (message: string) => lines.push(`${kind}: ${message}`);
  return {
    verbose: false,
    lines,
    step: () => ({ update: () => {}, succeed: () => {}, skip: () => {}, fail: () => {} }),
    info: push('info'),
    warn: push('warn'),
    error: push('error'),
    debug: push('debug'),
    detail: () => {},
    result: (result) => [result].flat().forEach(push('result')),
    json: () => {},
  };
}

describe('webhook body', () => {
  it('a single success names product, release, services, duration and who, in Slack fields', () => {
    const body = webhookBody([outcome('clock')], { ...META, command: 'deploy' }, undefined, new Date(1_700_000_000_000));
    expect(body.text).toBe('berth deploy: clock 3f2a91c0c0ff deployed (web) in 4.32s, run by alice@vm1');
    expect(body.attachments).toHaveLength(1);
    expect(body.attachments[0]).toMatchObject({ color: '#2eb886', ts: 1_700_000_000 });
    expect(Object.fromEntries(body.attachments[0]?.fields.map((f) => [f.title, f.value]) ?? [])).toEqual({
      Product: 'clock',
      Release: SHA,
      Result: 'ok',
      Duration: '4.32s',
      'Services changed': 'web',
      'Run by': 'alice@vm1',
    });
  });

  it('a rollback says so: which release the product went back to', () => {
    const body = webhookBody([outcome('clock')], { ...META, command: 'rollback' });
    expect(body.text).toBe('berth rollback: clock rollback to 3f2a91c0c0ff done (web) in 4.32s, run by alice@vm1');
    const failed = webhookBody([outcome('clock', { result: 'failed', failedStep: 'verify' })], { ...META, command: 'rollback' });
    expect(failed.text).toMatch(/^berth rollback: clock rollback to 3f2a91c0c0ff FAILED \(web\)/);
  });

  it('a failure carries the failing step and its message, red; unchanged products are only counted', () => {
    const failed = outcome('notes', { result: 'failed', failedStep: 'health', error: 'web 1a2b is unhealthy' });
    const body = webhookBody([failed, outcome('clock'), outcome('dash', { changed: [] })], META);
    expect(body.text).toBe('berth deploy-all: 1 failed, 1 deployed, 1 unchanged, run by alice@vm1');
    expect(body.attachments.map((a) => a.color)).toEqual(['#a30200', '#2eb886']);
    expect(body.attachments[0]?.fields.at(-1)).toEqual({ title: 'Failed step', value: 'health: web 1a2b is unhealthy', short: false });
  });

  it('redacts secrets wherever they appear in the message', () => {
    const leaky = outcome('notes', { result: 'failed', failedStep: 'pull', error: 'login with s3cr3t-token failed' });
    const body = webhookBody([leaky], META, makeRedactor({ GITEA_NPM_TOKEN: 's3cr3t-token' }));
    expect(JSON.stringify(body)).not.toContain('s3cr3t-token');
    expect(JSON.stringify(body)).toContain('[REDACTED]');
  });

  it('only runs that deployed or failed something are worth a message', () => {
    expect(worthNotifying([outcome('a', { changed: [] })])).toBe(false);
    expect(worthNotifying([outcome('a', { changed: [] }), outcome('b')])).toBe(true);
    expect(worthNotifying([outcome('a', { result: 'failed', changed: [] })])).toBe(true);
    expect(worthNotifying([outcome('a', { result: 'dry-run' })])).toBe(false);
  });

  it('prints the origin of a hook URL, never its path (which holds the token)', () => {
    expect(webhookOrigin('https://hooks.slack.com/services/T0/B0/XYZ')).toBe('https://hooks.slack.com');
    expect(webhookOrigin('ftp://x/y')).toBeUndefined();
    expect(webhookOrigin('not a url')).toBeUndefined();
  });

  it('a hook that is down is a warning naming the origin only, and notify resolves', async () => {
    // A port that was free a moment ago: nothing listens there now.
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port: p } = server.address() as { port: number };
        server.close(() => resolve(p));
      });
    });
    const ui = recordingUi();
    const delivered = await notifyOutcomes(
      [outcome('clock')],
      { BERTH_WEBHOOK_URL: `http://127.0.0.1:${port}/hooks/SECRETPATH` },
      META,
      ui,
    );
    expect(delivered).toBe(false);
    expect(ui.lines).toEqual([`warn: notification to http://127.0.0.1:${port} failed (ECONNREFUSED); the deploy result stands`]);
    expect(await notifyOutcomes([outcome('clock')], {}, META, ui)).toBe(false);
    expect(await notifyOutcomes([outcome('clock')], { BERTH_WEBHOOK_URL: 'hooks.example/x' }, META, ui)).toBe(false);
    expect(ui.lines.at(-1)).toBe('warn: BERTH_WEBHOOK_URL is not an http(s) URL: no notification was sent');
  });
});

describe('timings', () => {
  it('the summary table has a column per step any product ran, the plan-only column first', () => {
    const lines = timingTable([
      outcome('clock'),
      outcome('notes', { changed: [], durationsMs: { plan: 80, total: 90 } }),
      outcome('x', { result: 'failed', failedStep: 'pull', error: 'boom' }),
    ]);
    expect(lines[0]?.split(/\s+/)).toEqual(['product', 'result', 'changed', 'plan', 'preflight', 'pull', 'total']);
    expect(lines[1]?.split(/\s+/)).toEqual(['clock', 'ok', 'web', '-', '1.20s', '0.30s', '4.32s']);
    expect(lines[2]?.split(/\s+/)).toEqual(['notes', 'unchanged', '-', '0.08s', '-', '-', '0.09s']);
    expect(lines.at(-1)).toBe('x: pull: boom');
  });

  it('the failed step is the last one timed', () => {
    expect(lastTimedStep({ preflight: 1, select: 2, health: 3, total: 9 })).toBe('health');
    expect(lastTimedStep({})).toBeUndefined();
  });

  it('logs under the state dir unless configured or switched off', () => {
    expect(deployLogPath({}, '/var/lib/berth')).toBe('/var/lib/berth/deploys.jsonl');
    expect(deployLogPath({ BERTH_DEPLOY_LOG: '/var/log/berth.jsonl' }, '/x')).toBe('/var/log/berth.jsonl');
    expect(deployLogPath({ BERTH_DEPLOY_LOG: 'off' }, '/x')).toBeUndefined();
  });
});

describe('files', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'berth-unit-metrics-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('the textfile replaces this run products and keeps the others, in the exposition format', async () => {
    const path = join(dir, 'berth.prom');
    const time = new Date('2026-11-22T10:00:00Z');
    await updateTextfile(path, [logRecord(outcome('clock'), META, time), logRecord(outcome('notes', { result: 'failed' }), META, time)]);
    await updateTextfile(path, [logRecord(outcome('clock', { changed: [], durationsMs: { plan: 50, total: 60 } }), META, time)]);
    const text = readFileSync(path, 'utf8');
    expect(text).toContain(
      '# HELP berth_deploy_last_success 1 if the last deploy of the product succeeded, 0 if it failed.\n# TYPE berth_deploy_last_success gauge\n',
    );
    expect(text).toContain('berth_deploy_last_success{product="clock"} 1\nberth_deploy_last_success{product="notes"} 0\n');
    expect(text).toContain('berth_deploy_last_duration_seconds{product="clock"} 0.06\n');
    expect(text).toContain('berth_deploy_last_timestamp_seconds{product="notes"} 1795341600\n');
    expect(text).toContain('berth_deploy_last_step_duration_seconds{product="notes",step="pull"} 0.3\n');
    expect(text).not.toContain('{product="clock",step="pull"}');
    // Atomic: no temp file or lock left behind.
    expect(readdirSync(dir)).toEqual(['berth.prom']);
    expect(parseSamples(text).filter((s) => s.name === 'berth_deploy_last_changed_services')).toEqual([
      { name: 'berth_deploy_last_changed_services', labels: { product: 'clock' }, value: 0 },
      { name: 'berth_deploy_last_changed_services', labels: { product: 'notes' }, value: 1 },
    ]);
  });

  it('foreign lines in the textfile are dropped, label escapes survive a round trip', () => {
    const text = renderTextfile('garbage\nother_metric{product="x"} 1\nberth_deploy_last_success{product="a\\"b"} 1\n', []);
    expect(text).toBe(
      '# HELP berth_deploy_last_success 1 if the last deploy of the product succeeded, 0 if it failed.\n# TYPE berth_deploy_last_success gauge\nberth_deploy_last_success{product="a\\"b"} 1\n',
    );
  });

  it('recording appends one JSON line per product, skips dry runs, and only warns when it cannot write', async () => {
    const ui = recordingUi();
    const log = join(dir, 'deploys.jsonl');
    await recordOutcomes([outcome('clock'), outcome('notes', { result: 'dry-run' })], { BERTH_DEPLOY_LOG: log }, dir, META, ui);
    await recordOutcomes([outcome('clock', { changed: [] })], { BERTH_DEPLOY_LOG: log }, dir, META, ui);
    const lines = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { product: string; result: string; durationsMs: object; who: string });
    expect(lines.map((l) => [l.product, l.result, l.who])).toEqual([
      ['clock', 'ok', 'alice'],
      ['clock', 'unchanged', 'alice'],
    ]);
    expect(lines[0]?.durationsMs).toEqual({ preflight: 1200, pull: 300, total: 4321 });
    writeFileSync(join(dir, 'file'), '');
    await recordOutcomes(
      [outcome('clock')],
      { BERTH_DEPLOY_LOG: join(dir, 'file', 'deploys.jsonl'), BERTH_PROMETHEUS_TEXTFILE: join(dir, 'file', 'x.txt') },
      dir,
      META,
      ui,
    );
    expect(ui.lines.map((l) => l.replace(/: E\w+.*/, ''))).toEqual([
      `warn: could not append to the deploy log ${join(dir, 'file', 'deploys.jsonl')}`,
      `warn: BERTH_PROMETHEUS_TEXTFILE=${join(dir, 'file', 'x.txt')}: node_exporter only reads files ending in .prom`,
      `warn: could not write the Prometheus textfile ${join(dir, 'file', 'x.txt')}`,
    ]);
  });
});

describe('deploy-all scheduling', () => {
  it('groups products that share a project or a repo, transitively; the rest stand alone', () => {
    const keys: Record<string, string[]> = {
      a: ['p:a', 'r:/srv/a'],
      b: ['p:b', 'r:/srv/a'],
      c: ['p:c', 'r:/srv/c'],
      d: ['p:b', 'r:/srv/d'],
    };
    expect(switchGroups(Object.keys(keys), (k) => keys[k] ?? [])).toEqual([['a', 'b', 'd'], ['c']]);
  });

  it('mapLimit never runs more than the limit at once and keeps the order of results', async () => {
    let running = 0;
    let peak = 0;
    const results = await mapLimit([30, 10, 20, 5, 15], 2, async (ms, i) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, ms));
      running--;
      return i;
    });
    expect(results).toEqual([0, 1, 2, 3, 4]);
    expect(peak).toBe(2);
  });
});
