// For unit tests of ordering and argv only: answers commands from a table and records them.
// An unexpected command fails the test, so a step cannot quietly run something new.
import { CommandError } from '../../lib/core/errors.mts';
import type { CommandResult, Runner } from '../../lib/core/runner.mts';

export type Answer = Partial<Pick<CommandResult, 'stdout' | 'exitCode' | 'stderr'>>;

/** Tables match on the argv joined with single spaces. */
const line = (argv: string[]) => argv.join(' ');

/** A command pattern and what the command answers (or a function of its argv). */
export type Row = [RegExp, Answer | ((argv: string[]) => Answer)];

export function fakeRunner(table: Row[], options: { dryRun?: boolean } = {}): Runner & { calls: string[]; runs: string[] } {
  const calls: string[] = [];
  const runs: string[] = [];
  const history: CommandResult[] = [];
  const answer = (argv: string[]): CommandResult => {
    calls.push(line(argv));
    const hit = table.find(([pattern]) => pattern.test(line(argv)));
    if (!hit) throw new Error(`unexpected command: ${line(argv)}`);
    const a = typeof hit[1] === 'function' ? hit[1](argv) : hit[1];
    const result = { argv, exitCode: a.exitCode ?? 0, stdout: a.stdout ?? '', stderr: a.stderr ?? '', ms: 0, dryRun: false };
    history.push(result);
    return result;
  };
  const fail = (r: CommandResult) => {
    throw new CommandError(r.argv.join(' '), r.exitCode, r.stderr);
  };
  return {
    dryRun: options.dryRun ?? false,
    calls,
    runs,
    history,
    format: line,
    redact: (text) => text,
    addSecret: () => {},
    async run(argv) {
      runs.push(line(argv));
      if (options.dryRun) return { argv, exitCode: 0, stdout: '', stderr: '', ms: 0, dryRun: true };
      const r = answer(argv);
      if (r.exitCode !== 0) fail(r);
      return r;
    },
    async read(argv) {
      const r = answer(argv);
      if (r.exitCode !== 0) fail(r);
      return r.stdout.trim();
    },
    probe: async (argv) => answer(argv),
  };
}
