// The build cache is the whole engine's: hygiene prunes it only when BERTH_HYGIENE_BUILDER_PRUNE
// says so, and says which way it went, in the run and in the dry run.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSettings } from '../../lib/config/load.mts';
import { parseSettings } from '../../lib/core/settings.mts';
import { formatHygiene } from '../../lib/ops/hygiene/report.mts';
import { runHygiene } from '../../lib/ops/hygiene/run.mts';
import { silentUi } from '../../lib/core/ui.mts';
import { fakeRunner, type Row } from '../support/fake-runner.mts';

const DEFINE_URL = new URL('../../lib/config/define.mts', import.meta.url).href;

describe('hygiene and the build cache', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'berth-unit-prune-'));
    mkdirSync(join(dir, 'products'));
    mkdirSync(join(dir, 'acme'));
    writeFileSync(join(dir, 'acme', 'compose.yaml'), 'services: {}\n');
    writeFileSync(
      join(dir, 'products', 'acme.mts'),
      `import { defineProduct } from '${DEFINE_URL}';\nexport default defineProduct({ name: 'acme', repo: 'acme', composeFiles: ['compose.yaml'], services: { web: { kind: 'http' } } });\n`,
    );
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const table = (): Row[] => [
    [/^docker info --format \{\{\.ServerVersion/, { stdout: `27.0.0|${dir}` }],
    [/^docker info --format \{\{json \.LoggingDriver\}\}/, { stdout: '"json-file"' }],
    [/^docker ps --quiet --no-trunc --all --filter label=com.docker.compose.project=acme$/, { stdout: '' }],
    [/^docker ps --all --quiet --filter label=com.docker.stack.namespace=acme$/, { stdout: '' }],
    [/^docker ps --all --quiet --no-trunc$/, { stdout: '' }],
    [/^docker image ls --all --no-trunc --digests/, { stdout: '' }],
    [/^docker image ls --no-trunc --quiet --filter dangling=true$/, { stdout: '' }],
    [/^docker builder prune --force --keep-storage 1073741824$/, { stdout: 'Total reclaimed space: 2GB' }],
    [/^docker system df/, { stdout: JSON.stringify({ Type: 'Build Cache', Size: '3GB', Reclaimable: '2GB' }) }],
  ];
  const settings = (extra: Record<string, string> = {}) =>
    loadSettings({
      BERTH_PRODUCTS_DIR: join(dir, 'products'),
      BERTH_WORKSPACE: dir,
      BERTH_STATE_DIR: join(dir, 'state'),
      BERTH_REGISTRY: '127.0.0.1:5999',
      BERTH_ENV_FILE: join(dir, 'none'),
      ...extra,
    });

  it('is off unless set, and on/off is all it takes', () => {
    expect(parseSettings({}).settings.hygieneBuilderPrune).toBe(false);
    expect(parseSettings({ BERTH_HYGIENE_BUILDER_PRUNE: 'on' }).settings.hygieneBuilderPrune).toBe(true);
    expect(parseSettings({ BERTH_HYGIENE_BUILDER_PRUNE: 'off' }).settings.hygieneBuilderPrune).toBe(false);
    expect(parseSettings({ BERTH_HYGIENE_BUILDER_PRUNE: 'yes' }).errors).toEqual(["BERTH_HYGIENE_BUILDER_PRUNE is 'yes': use on or off"]);
  });

  it('off: never runs docker builder prune, and the report says why and where the size is', async () => {
    const runner = fakeRunner(table());
    const report = await runHygiene(runner, silentUi(), settings(), { diskThreshold: 100, buildCacheCap: '1GB' });
    expect(runner.calls.some((c) => c.startsWith('docker builder'))).toBe(false);
    const cache = report.cleanups.find((c) => c.name === 'build-cache');
    expect(cache?.state).toBe('skipped');
    expect(formatHygiene(report)).toContain(
      "build-cache: skipped (BERTH_HYGIENE_BUILDER_PRUNE=off): the build cache is the whole engine's, other users' too; the disk report shows its size; set BERTH_HYGIENE_BUILDER_PRUNE=on where the engine is berth's alone",
    );
    expect(report.disk?.docker).toEqual([{ type: 'Build Cache', size: '3GB', reclaimable: '2GB' }]);
    expect(report.alerts).toEqual([]);
  });

  it('on: prunes, and says the prune is engine-wide, in the run and in the dry run', async () => {
    const runner = fakeRunner(table());
    const report = await runHygiene(runner, silentUi(), settings({ BERTH_HYGIENE_BUILDER_PRUNE: 'on' }), {
      diskThreshold: 100,
      buildCacheCap: '1GB',
    });
    expect(runner.runs).toContain('docker builder prune --force --keep-storage 1073741824');
    expect(report.cleanups.find((c) => c.name === 'build-cache')?.summary).toBe(
      "pruned the engine's whole build cache (every user's) down to 1GB, reclaimed 2GB",
    );

    const dry = fakeRunner(table(), { dryRun: true });
    const planned = await runHygiene(dry, silentUi(), settings({ BERTH_HYGIENE_BUILDER_PRUNE: 'on' }), {
      dryRun: true,
      diskThreshold: 100,
      buildCacheCap: '1GB',
    });
    expect(dry.calls.some((c) => c.startsWith('docker builder'))).toBe(false);
    expect(formatHygiene(planned)).toContain(
      "build-cache: would prune the engine's whole build cache (every user's, not only berth's) down to 1GB",
    );
  });

  it('the option overrides the setting, for a caller that decides itself', async () => {
    const runner = fakeRunner(table());
    await runHygiene(runner, silentUi(), settings(), { diskThreshold: 100, buildCacheCap: '1GB', builderPrune: true });
    expect(runner.runs).toContain('docker builder prune --force --keep-storage 1073741824');
  });
});
