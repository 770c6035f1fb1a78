// `npm run bench -- --help` prints help and runs nothing; a bench interrupted however it is (a
// signal, a reader gone) stops what it started and runs its cleanup before it exits. The teardown
// is exercised in a small child script, not a bench: no engine, no CPU.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BERTH_ROOT } from '../../lib/core/settings.mts';

const bench = (args: string[]) =>
  spawnSync(process.execPath, [join(BERTH_ROOT, 'scripts', 'bench.mts'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });

describe('npm run bench', () => {
  it('--help and -h print the usage with every benchmark, and run none', () => {
    for (const flag of ['--help', '-h']) {
      const result = bench([flag]);
      expect(result.status, result.stderr).toBe(0);
      // Help is what was asked for: stdout, like every entry's --help.
      expect(result.stderr).toBe('');
      expect(result.stdout).toMatch(/^usage: npm run bench \[-- name\.\.\.\]/);
      for (const name of ['build', 'deploy-all', 'edge', 'rollback', 'swarm', 'switch'])
        expect(result.stdout).toMatch(new RegExp(`\\n  ${name} +\\S`));
      expect(result.stdout).not.toContain('support');
      expect(result.stdout).not.toContain('==> bench');
    }
  });

  it('refuses unknown flags and benchmarks with one line naming the fix, running none', () => {
    const cases: [string[], RegExp][] = [
      [['--nope'], /^error: Unknown option '--nope'\..*: see npm run bench \[-- name\.\.\.\] --help$/],
      [['nosuch'], /^error: unknown benchmark nosuch: use build, deploy-all, edge, rollback, swarm, switch$/],
      [['--dry-run'], /^error: --dry-run does not apply to benchmarks: see npm run bench -- --help$/],
    ];
    for (const [args, line] of cases) {
      const result = bench(args);
      expect(result.status, args.join(' ')).toBe(2);
      const lines = result.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(line);
    }
  });
});

describe('a bench interrupted', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'berth-unit-teardown-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A stand-in bench: starts a child, registers a cleanup that writes a marker, then waits, writing
   *  a line to stdout every 50 ms (so a reader gone is noticed). */
  function standIn(): { script: string; marker: string; childFile: string } {
    const marker = join(dir, 'cleaned');
    const childFile = join(dir, 'child.pid');
    const script = join(dir, 'bench.mts');
    const teardown = new URL('../../scripts/bench/support/teardown.mts', import.meta.url).href;
    writeFileSync(
      script,
      `import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { teardownOnExit } from '${teardown}';
const teardown = teardownOnExit('stand-in', async () => { writeFileSync('${marker}', 'cleaned'); });
const child = spawn('sleep', ['60'], { stdio: 'ignore' });
writeFileSync('${childFile}', String(child.pid));
try {
  setInterval(() => process.stdout.write('tick\\n'), 50);
  await new Promise((resolve) => setTimeout(resolve, 60_000));
} finally {
  await teardown.run();
}
`,
    );
    return { script, marker, childFile };
  }

  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  async function interrupt(
    how: 'SIGINT' | 'SIGTERM' | 'SIGHUP' | 'reader gone',
  ): Promise<{ code: number | null; stderr: string; childPid: number; marker: string }> {
    const { script, marker, childFile } = standIn();
    const proc = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((resolve) => proc.stdout.once('data', () => resolve()));
    const childPid = Number(readFileSync(childFile, 'utf8'));
    expect(alive(childPid)).toBe(true);
    expect(existsSync(marker)).toBe(false);
    if (how === 'reader gone') proc.stdout.destroy();
    else proc.kill(how);
    const code = await new Promise<number | null>((resolve) => proc.once('exit', (c) => resolve(c)));
    return { code, stderr, childPid, marker };
  }

  for (const [how, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
    ['reader gone', 141],
  ] as const) {
    it(`by ${how}: stops its children, cleans up, exits ${code}`, async () => {
      const result = await interrupt(how);
      expect(result.code, result.stderr).toBe(code);
      expect(readFileSync(result.marker, 'utf8')).toBe('cleaned');
      expect(alive(result.childPid)).toBe(false);
      expect(result.stderr).toContain(
        `stand-in: ${how === 'reader gone' ? 'SIGPIPE' : how}: stopping and removing what this bench created`,
      );
    });
  }
});
