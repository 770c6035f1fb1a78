import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { BERTH_ROOT } from '../../lib/core/settings.mts';
import { PassThrough } from 'node:stream';
import { flagGiven, integerFlag, wholeNumber } from '../../lib/core/cli.mts';
import { BerthError } from '../../lib/core/errors.mts';
import { createUi } from '../../lib/core/ui.mts';

function lineOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof BerthError) return `${error.exitCode} ${error.line}`;
    throw error;
  }
  throw new Error('did not throw');
}

describe('integer flags', () => {
  it('reads whole numbers in range and nothing else', () => {
    expect(wholeNumber('5', 1, 10)).toBe(5);
    expect(wholeNumber(' 10 ', 1, 10)).toBe(10);
    for (const bad of ['0', '11', '2.5', '1e1', '0x4', 'four', '', '-']) expect(wholeNumber(bad, 1, 10), bad).toBeUndefined();
  });

  it('is undefined when the flag was not given, and one usage line naming the fix on bad input', () => {
    const range = { min: 1, max: 32, example: 4 };
    expect(integerFlag(undefined, '--parallel', range)).toBeUndefined();
    expect(integerFlag('', '--parallel', range)).toBeUndefined();
    expect(integerFlag('8', '--parallel', range)).toBe(8);
    expect(lineOf(() => integerFlag('33', '--parallel', range))).toBe(
      "2 --parallel must be a whole number from 1 to 32, not '33': pass --parallel 4",
    );
    expect(lineOf(() => integerFlag('0', '--keep', { min: 1, max: 100, example: 5 }))).toBe(
      "2 --keep must be a whole number from 1 to 100, not '0': pass --keep 5",
    );
  });
});

describe('where output goes', () => {
  function streams(json?: boolean) {
    const err = new PassThrough();
    const out = new PassThrough();
    const text = (s: PassThrough) => String(s.read() ?? '');
    const ui = createUi({ stream: err, out, tty: false, json });
    return { ui, stderr: () => text(err), stdout: () => text(out) };
  }

  it('the result to stdout; steps, warnings and errors to stderr', () => {
    const { ui, stdout, stderr } = streams();
    ui.step('pull images').succeed();
    ui.warn('careful');
    ui.result(['summary:', '  web  ok']);
    ui.result('acme v1: ok');
    ui.error('nope');
    expect(stdout()).toBe('summary:\n  web  ok\nacme v1: ok\n');
    expect(stderr()).toMatch(/^==> pull images\n {4}ok \([\d.]+s\)\nwarning: careful\nerror: nope\n$/);
  });

  it('with --json, stdout is the JSON alone: results printed along the way go to stderr', () => {
    const { ui, stdout, stderr } = streams(true);
    ui.result('summary (seconds per step):');
    ui.json({ ok: true });
    expect(JSON.parse(stdout())).toEqual({ ok: true });
    expect(stderr()).toBe('summary (seconds per step):\n');
  });

  it('reads --json and --verbose before the flags are parsed, not after --', () => {
    expect(flagGiven(['acme', '--json'], '--json')).toBe(true);
    expect(flagGiven(['acme', '-v'], '--verbose', '-v')).toBe(true);
    expect(flagGiven(['acme', '--', '--json'], '--json')).toBe(false);
    expect(flagGiven(['acme'], '--json')).toBe(false);
  });
});

describe('lowerPriority (lib/core/priority.mts)', () => {
  // In a child process: niceness only ever goes up, so the test process must keep its own.
  const niceAfter = (code: string) =>
    execFileSync(process.execPath, ['--input-type=module', '-e', `${code}\nconsole.log(os.getPriority(0));`], {
      cwd: BERTH_ROOT,
      encoding: 'utf8',
    }).trim();
  const prelude = `import os from 'node:os'; import { lowerPriority } from './lib/core/priority.mts';`;

  it('lowers the priority of the process and of what it starts, never raises it', () => {
    const base = os.getPriority(0);
    expect(Number(niceAfter(`${prelude} lowerPriority(${base + 5});`))).toBe(base + 5);
    expect(Number(niceAfter(`${prelude} os.setPriority(0, ${base + 6}); lowerPriority(${base + 2});`))).toBe(base + 6);
    expect(Number(niceAfter(`${prelude} lowerPriority(0);`))).toBe(base);
    const child = `${prelude} lowerPriority(${base + 4}); import { execFileSync } from 'node:child_process'; console.log(execFileSync(process.execPath, ['-e', 'console.log(require("os").getPriority(0))'], { encoding: 'utf8' }).trim());`;
    expect(niceAfter(child).split('\n')[0]).toBe(String(base + 4));
  });

  it('takes BERTH_NICE from the environment before settings load: 10 when unset, a bad value left alone', () => {
    const base = os.getPriority(0);
    const early = (value: string) =>
      Number(
        niceAfter(`import os from 'node:os'; import { lowerPriorityEarly } from './lib/core/priority.mts'; lowerPriorityEarly(${value});`),
      );
    expect(early('{}')).toBe(Math.max(base, 10));
    expect(early(`{ BERTH_NICE: '${base + 3}' }`)).toBe(base + 3);
    expect(early(`{ BERTH_NICE: 'lots' }`)).toBe(base);
    expect(early(`{ BERTH_NICE: '25' }`)).toBe(base);
  });
});
