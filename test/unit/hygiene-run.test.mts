// runHygiene with a fake runner answering from a command table: one failing cleanup must not stop
// the others or the reports, and every failure ends up in the alerts.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSettings } from '../../lib/config/load.mts';
import { runHygiene } from '../../lib/ops/hygiene/run.mts';
import { silentUi } from '../../lib/core/ui.mts';
import { fakeRunner } from '../support/fake-runner.mts';

const DEFINE_URL = new URL('../../lib/config/define.mts', import.meta.url).href;
const REG = '127.0.0.1:5999';
const id = (n: string) => `sha256:${n.padEnd(64, '0')}`;

/** berth's settings for a products dir, workspace and state dir under `dir`. */
function settingsIn(dir: string, extra: Record<string, string> = {}) {
  return loadSettings({
    BERTH_PRODUCTS_DIR: join(dir, 'products'),
    BERTH_WORKSPACE: dir,
    BERTH_STATE_DIR: join(dir, 'state'),
    BERTH_REGISTRY: REG,
    BERTH_ENV_FILE: join(dir, 'none'),
    ...extra,
  });
}

describe('a hygiene run where cleanups fail', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'berth-unit-hygiene-'));
    mkdirSync(join(dir, 'products'));
    mkdirSync(join(dir, 'acme'));
    writeFileSync(join(dir, 'acme', 'compose.yaml'), 'services: {}\n');
    writeFileSync(
      join(dir, 'products', 'acme.mts'),
      `import { defineProduct } from '${DEFINE_URL}';\nexport default defineProduct({ name: 'acme', repo: 'acme', composeFiles: ['compose.yaml'], services: { web: { kind: 'http', health: { path: '/healthz', port: 8080 } } }, keepReleases: 1 });\n`,
    );
    const state = join(dir, 'state', 'acme');
    mkdirSync(state, { recursive: true });
    const record = (tag: string, n: string) => ({
      time: '2026-11-01T10:00:00Z',
      who: 'a',
      host: 'vm',
      product: 'acme',
      tag,
      kind: 'deploy',
      result: 'ok',
      services: { web: { image: `${REG}/acme-web:${tag}`, id: id(n) } },
      changed: ['web'],
    });
    writeFileSync(join(state, 'releases.jsonl'), `${JSON.stringify(record('v1', 'w1'))}\n${JSON.stringify(record('v2', 'w2'))}\n`);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('runs every cleanup and every report, and alerts on each failure', async () => {
    const image = (tag: string, n: string) => JSON.stringify({ Repository: `${REG}/acme-web`, Tag: tag, Digest: '<none>', ID: id(n) });
    const container = [
      {
        Id: 'c1',
        Name: '/acme_web_1',
        Image: id('w2'),
        LogPath: join(dir, 'no-such-log'),
        State: { Running: true },
        Config: { Labels: { 'com.docker.compose.project': 'acme', 'com.docker.compose.service': 'web' } },
        HostConfig: { LogConfig: { Type: 'json-file', Config: {} }, Memory: 64 * 2 ** 20, MemoryReservation: 0 },
      },
    ];
    const runner = fakeRunner([
      [/^docker info --format \{\{\.ServerVersion/, { stdout: `20.10.24|${dir}` }],
      [/^docker info --format \{\{json \.LoggingDriver\}\}/, { stdout: '"json-file"' }],
      [/^docker ps --quiet --no-trunc --all --filter label=com.docker.compose.project=acme$/, { stdout: 'c1\n' }],
      [/^docker ps --all --quiet --filter label=com.docker.stack.namespace=/, { stdout: '' }],
      [/^docker inspect --type container c1$/, { stdout: JSON.stringify(container) }],
      [/^docker ps --all --quiet --no-trunc$/, { stdout: 'c1\n' }],
      [/^docker inspect --type container --format .* c1$/, { stdout: `c1|${id('w2')}|acme\n` }],
      [/^docker image ls --all --no-trunc --digests/, { stdout: [image('v0', 'w0'), image('v1', 'w1'), image('v2', 'w2')].join('\n') }],
      [
        /^docker image rm 127.0.0.1:5999\/acme-web:v0$/,
        { exitCode: 1, stderr: 'Error response from daemon: conflict: unable to remove repository reference' },
      ],
      [/^docker image rm 127.0.0.1:5999\/acme-web:v1$/, { stdout: 'Untagged' }],
      [/^docker image ls --no-trunc --quiet --filter dangling=true$/, { exitCode: 1, stderr: 'Cannot connect to the Docker daemon' }],
      [/^docker builder prune --force --keep-storage 5368709120$/, { exitCode: 1, stderr: 'builder prune failed' }],
      [/^docker system df/, { stdout: JSON.stringify({ Type: 'Images', Size: '1GB', Reclaimable: '0B' }) }],
    ]);
    const settings = settingsIn(dir, { BERTH_HYGIENE_BUILDER_PRUNE: 'on' });
    const report = await runHygiene(runner, silentUi(), settings, { diskThreshold: 100, hostMemoryBytes: 2 ** 30 });

    expect(report.cleanups.map((c) => [c.name, c.state])).toEqual([
      ['images', 'failed'],
      ['dangling', 'failed'],
      ['build-cache', 'failed'],
    ]);
    // The failed removal did not stop the next one.
    expect(report.cleanups[0]).toMatchObject({ removed: [`${REG}/acme-web:v1`], failed: [{ ref: `${REG}/acme-web:v0` }] });
    expect(runner.calls.filter((c) => c.startsWith('docker image rm'))).toEqual([
      `docker image rm ${REG}/acme-web:v0`,
      `docker image rm ${REG}/acme-web:v1`,
    ]);
    expect(report.keptImages.map((k) => k.ref)).toEqual([`${REG}/acme-web:v2`]);
    expect(report.logs.findings.map((f) => [f.service, f.how])).toEqual([
      ['web', 'json-file without max-size: grows until the disk is full'],
    ]);
    expect(report.disk).toMatchObject({
      path: dir,
      threshold: 100,
      over: false,
      docker: [{ type: 'Images', size: '1GB', reclaimable: '0B' }],
    });
    expect(report.memory).toMatchObject({ limitBytes: 64 * 2 ** 20, hostBytes: 2 ** 30, unbounded: [] });
    expect(report.alerts).toHaveLength(3);
    expect(report.alerts[0]).toMatch(/^images cleanup failed: 127.0.0.1:5999\/acme-web:v0: .*conflict/);
    expect(report.alerts[1]).toMatch(/^dangling cleanup failed: .*Cannot connect/);
    expect(report.alerts[2]).toMatch(/^build-cache cleanup failed: .*builder prune failed/);
  });

  it('tells a product file that does not load from a product this VM does not run, and alerts on the first', async () => {
    const product = (name: string, extra: string) =>
      `import { defineProduct } from '${DEFINE_URL}';\nexport default defineProduct({ name: '${name}', repo: '${name}', composeFiles: ['compose.yaml'], services: { web: { kind: 'http' } }${extra} });\n`;
    writeFileSync(join(dir, 'products', 'broken.mts'), product('broken', ", keepReleases: 'five'"));
    writeFileSync(join(dir, 'products', 'elsewhere.mts'), product('elsewhere', ''));
    mkdirSync(join(dir, 'broken'));
    const runner = fakeRunner([
      [/^docker info --format \{\{\.ServerVersion/, { stdout: `20.10.24|${dir}` }],
      [/^docker info --format \{\{json \.LoggingDriver\}\}/, { stdout: '"json-file"' }],
      [/^docker ps --quiet --no-trunc --all --filter/, { stdout: '' }],
      [/^docker ps --all --quiet --filter label=com.docker.stack.namespace=/, { stdout: '' }],
      [/^docker ps --all --quiet --no-trunc$/, { stdout: '' }],
      [/^docker image ls --all --no-trunc --digests/, { stdout: '' }],
      [/^docker image ls --no-trunc --quiet --filter dangling=true$/, { stdout: '' }],
      [/^docker system df/, { stdout: '' }],
    ]);
    const settings = settingsIn(dir);
    const report = await runHygiene(runner, silentUi(), settings, { diskThreshold: 100 });
    const states = Object.fromEntries(report.products.map((p) => [p.product, [p.state, p.reason?.split(' (')[0]]]));
    expect(states).toEqual({
      acme: ['checked', undefined],
      broken: ['skipped', 'its product file is wrong'],
      elsewhere: ['skipped', 'not deployed here'],
    });
    expect(report.alerts).toEqual([expect.stringMatching(/^broken not checked: .*keepReleases/)]);
  });

  it('removes nothing when it cannot tell what runs, and still reports', async () => {
    const runner = fakeRunner([
      [/^docker info --format \{\{\.ServerVersion/, { stdout: `20.10.24|${dir}` }],
      [/^docker info --format \{\{json \.LoggingDriver\}\}/, { stdout: '"json-file"' }],
      [/^docker ps --quiet --no-trunc --all --filter/, { exitCode: 1, stderr: 'permission denied' }],
      [/^docker builder prune/, { stdout: 'Total reclaimed space: 0B' }],
      [/^docker system df/, { stdout: '' }],
    ]);
    const settings = settingsIn(dir, { BERTH_HYGIENE_BUILDER_PRUNE: 'on' });
    const report = await runHygiene(runner, silentUi(), settings, { diskThreshold: 100 });
    expect(report.cleanups.map((c) => [c.name, c.state])).toEqual([
      ['images', 'failed'],
      ['dangling', 'failed'],
      ['build-cache', 'done'],
    ]);
    expect(report.cleanups[0]?.summary).toMatch(/not run: cannot tell which images to keep .*permission denied/);
    expect(runner.calls.some((c) => c.startsWith('docker image rm'))).toBe(false);
    expect(report.disk?.path).toBe(dir);
  });
});
