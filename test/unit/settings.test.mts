import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../lib/config/load.mts';
import { ConfigError } from '../../lib/core/errors.mts';
import { BERTH_ROOT, parseSettings, readSetting, SETTINGS, settingsTable } from '../../lib/core/settings.mts';

describe('settings', () => {
  it('gives every setting its declared default when nothing is set, empty counting as unset', () => {
    const { settings, errors } = parseSettings({ BERTH_REGISTRY: '', BERTH_WEBHOOK_TIMEOUT_MS: '' });
    expect(errors).toEqual([]);
    expect(settings).toMatchObject({
      productsDir: join(BERTH_ROOT, 'products'),
      registry: undefined,
      start: 'direct',
      deployLog: undefined,
      webhookTimeoutMs: 5_000,
      diskThreshold: undefined,
    });
  });

  it('types what is set', () => {
    const { settings } = parseSettings({
      BERTH_STATE_DIR: '/srv/state',
      BERTH_COMPOSE: 'v1',
      BERTH_START: 'compose',
      BERTH_DEPLOY_LOG: 'off',
      BERTH_WEBHOOK_TIMEOUT_MS: '250',
      BERTH_DISK_THRESHOLD: '85',
      BERTH_BUILD_CACHE: 'registry',
    });
    expect(settings).toMatchObject({
      stateDir: '/srv/state',
      compose: 'v1',
      start: 'compose',
      deployLog: false,
      webhookTimeoutMs: 250,
      diskThreshold: 85,
      buildCache: 'registry',
    });
  });

  it('returns every bad variable at once, each with its name', () => {
    const { errors } = parseSettings({
      BERTH_COMPOSE: 'v3',
      BERTH_DISK_THRESHOLD: '101',
      BERTH_WEBHOOK_TIMEOUT_MS: 'soon',
      BERTH_START: 'swarm',
    });
    expect(errors).toEqual([
      "BERTH_COMPOSE is 'v3': use v1 or v2",
      "BERTH_START is 'swarm': use direct or compose",
      "BERTH_WEBHOOK_TIMEOUT_MS must be a whole number from 1 to 600000, not 'soon'",
      "BERTH_DISK_THRESHOLD must be a whole number from 1 to 100, not '101'",
    ]);
    const absent = join(BERTH_ROOT, 'no-such.env');
    const error = (() => {
      try {
        loadSettings({ BERTH_ENV_FILE: absent, BERTH_COMPOSE: 'v3', BERTH_BUILD_CACHE: 's3' });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).line).toBe(
      `the environment is invalid: BERTH_COMPOSE is 'v3': use v1 or v2; BERTH_BUILD_CACHE is 's3': use registry or none: fix these 2 variables (environment or ${absent}) and rerun`,
    );
  });

  it('reads one setting as declared, a bad value as its default', () => {
    expect(readSetting({ BERTH_WEBHOOK_TIMEOUT_MS: '900' }, 'webhookTimeoutMs')).toBe(900);
    expect(readSetting({ BERTH_WEBHOOK_TIMEOUT_MS: 'x' }, 'webhookTimeoutMs')).toBe(5_000);
    expect(readSetting({ BERTH_DEPLOY_LOG: '/var/log/d.jsonl' }, 'deployLog')).toBe('/var/log/d.jsonl');
  });

  it("is README's Settings table, one row per declared variable", () => {
    const readme = readFileSync(join(BERTH_ROOT, 'README.md'), 'utf8');
    expect(readme).toContain(settingsTable().join('\n'));
    expect(new Set(Object.values(SETTINGS).map((d) => d.variable)).size).toBe(Object.keys(SETTINGS).length);
  });
});
