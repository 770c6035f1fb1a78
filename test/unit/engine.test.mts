// Which Compose berth runs, decided from what the machine answers (a fake runner; no engine).
import { describe, expect, it } from 'vitest';
import { detectCompose, MIN_COMPOSE_V2, olderVersion } from '../../lib/engine/compose.mts';
import { fakeRunner } from '../support/fake-runner.mts';

describe('which Compose berth runs', () => {
  const versions = (v2: string | undefined, v1 = '1.29.2') =>
    fakeRunner([
      [
        /^docker compose version/,
        v2 === undefined ? { exitCode: 1, stderr: "docker: 'compose' is not a docker command." } : { stdout: `${v2}\n` },
      ],
      [/^docker-compose version/, { stdout: `${v1}\n` }],
    ]);

  it('prefers v2 and reports its version; BERTH_COMPOSE=v1 forces v1', async () => {
    expect(await detectCompose(versions('2.31.0'), undefined)).toEqual({ name: 'v2', bin: ['docker', 'compose'], version: '2.31.0' });
    expect(await detectCompose(versions('v2.40.3'), undefined)).toMatchObject({ name: 'v2', version: '2.40.3' });
    expect(await detectCompose(versions(undefined), undefined)).toMatchObject({ name: 'v1', version: '1.29.2' });
    expect(await detectCompose(versions('2.31.0'), 'v1')).toMatchObject({ name: 'v1' });
  });

  it('refuses a v2 older than berth needs, with the fix, instead of falling back silently', async () => {
    await expect(detectCompose(versions('2.19.1'), undefined)).rejects.toThrow(
      `Compose v2 2.19.1 is older than berth needs (${MIN_COMPOSE_V2} or newer)`,
    );
    await expect(detectCompose(versions('2.19.1'), undefined)).rejects.toMatchObject({ fix: expect.stringContaining('BERTH_COMPOSE=v1') });
  });

  it('compares versions part by part', () => {
    expect(olderVersion('2.9.0', '2.20.0')).toBe(true);
    expect(olderVersion('2.20.0', '2.20.0')).toBe(false);
    expect(olderVersion('2.31.0-desktop.1', '2.20.0')).toBe(false);
    expect(olderVersion('10.0', '2.20.0')).toBe(false);
  });
});
