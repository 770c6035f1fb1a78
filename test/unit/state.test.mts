// Ledger and lock on a real temp directory; the runner's redaction on a real (harmless) command.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRunner } from '../../lib/core/runner.mts';
import { appendRelease, currentRelease, readLedger, type ReleaseRecord } from '../../lib/releases/ledger.mts';
import { acquireLock } from '../../lib/releases/lock.mts';

const record = (tag: string, result: ReleaseRecord['result']): ReleaseRecord => ({
  time: '2026-11-22T00:00:00Z',
  who: 'ops',
  host: 'vm',
  product: 'shop',
  tag,
  kind: 'deploy',
  result,
  services: {},
  changed: [],
});

describe('ledger', () => {
  it('appends whole lines, survives a torn line, and knows the release running now', () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-ledger-'));
    appendRelease(dir, record('a', 'ok'));
    appendRelease(dir, record('b', 'failed'));
    writeFileSync(join(dir, 'releases.jsonl'), `${readFileSync(join(dir, 'releases.jsonl'), 'utf8')}{"tag":"tor`);
    appendRelease(dir, record('c', 'ok'));
    const records = readLedger(dir);
    expect(records.map((r) => r.tag)).toEqual(['a', 'b', 'c']);
    expect(currentRelease(records.slice(0, 2))?.tag).toBe('a');
  });
});

describe('lock', () => {
  it('is exclusive, names its holder, and is taken over when the holder died on this host', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-lock-'));
    const lock = await acquireLock(dir, { tag: 'abc', action: 'deploy' });
    await expect(acquireLock(dir, { tag: 'def', action: 'deploy' })).rejects.toThrow(
      new RegExp(`is locked by .*@${hostname()} \\(pid ${process.pid}, deploy abc`),
    );
    lock.release();
    // A holder whose pid is gone: stale.
    const again = await acquireLock(dir, { tag: 'x', action: 'deploy' });
    writeFileSync(
      join(again.path, 'holder.json'),
      JSON.stringify({ who: 'x', host: hostname(), pid: 2 ** 22 + 7, started: '', tag: 'x', action: 'deploy' }),
    );
    const stale: string[] = [];
    const taken = await acquireLock(dir, { tag: 'y', action: 'deploy' }, { onStale: (h) => stale.push(h.tag) });
    expect(stale).toEqual(['x']);
    taken.release();
  });
});

describe('runner', () => {
  it('redacts secrets from the command line and from error output', async () => {
    const runner = createRunner({ secrets: ['hunter2-token'] });
    expect(runner.format(['echo', 'hunter2-token'])).toBe('echo [REDACTED]');
    await expect(runner.run(['sh', '-c', 'echo "bad hunter2-token" >&2; exit 3'])).rejects.toThrow(/exited 3: bad \[REDACTED\]/);
  });
  it('dry-run prints a mutating command instead of running it, but still reads', async () => {
    const runner = createRunner({ dryRun: true });
    const result = await runner.run(['sh', '-c', 'exit 9']);
    expect(result).toMatchObject({ dryRun: true, exitCode: 0 });
    expect(await runner.read(['echo', 'still reads'])).toBe('still reads');
  });
});
