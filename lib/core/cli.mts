// Flags, --help, and the one place where errors become an exit code.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { BerthError, UsageError } from './errors.mts';
import { installInterruptHandlers } from './interrupt.mts';
import { createUi, type Ui } from './ui.mts';

export type Flags = NonNullable<ParseArgsConfig['options']>;

export const COMMON_FLAGS = {
  help: { type: 'boolean', short: 'h' },
  'dry-run': { type: 'boolean' },
  json: { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
} as const satisfies Flags;

export function parse<F extends Flags>(argv: string[], flags: F, usage: string) {
  try {
    return parseArgs({ args: argv, options: { ...COMMON_FLAGS, ...flags }, allowPositionals: true, strict: true });
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new UsageError(message ?? 'bad arguments', { fix: `see ${usage.split('\n')[0]?.replace(/^usage: /, '')} --help` });
  }
}

/** --help: the usage is what was asked for, so it goes to stdout (`--help | less` pages it); true
 *  when the caller should stop there. */
export function helpAsked(values: { help?: boolean | string }, usage: string): boolean {
  if (values.help) process.stdout.write(`${usage}\n`);
  return Boolean(values.help);
}

/** Whether a flag was given before any `--`: the UI is made before the flags are parsed. */
export function flagGiven(argv: string[], ...names: string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((arg) => names.includes(arg));
}

/** Runs an entry point: the only try/catch that turns errors into an exit code. */
export async function main(argv: string[], body: (ui: Ui) => Promise<number | void>, options: { verbose?: boolean } = {}): Promise<void> {
  const ui = createUi({ verbose: options.verbose ?? flagGiven(argv, '--verbose', '-v'), json: flagGiven(argv, '--json') });
  installInterruptHandlers((signal) => ui.warn(`${signal}: stopping at the next safe point and undoing this run (again to quit at once)`));
  try {
    process.exitCode = (await body(ui)) ?? 0;
  } catch (error) {
    if (error instanceof BerthError) {
      ui.error(error.line);
      process.exitCode = error.exitCode;
    } else {
      ui.error(error instanceof Error ? (process.env.VERBOSE ? (error.stack ?? error.message) : error.message) : String(error));
      process.exitCode = 1;
    }
  }
}

/** A whole number in [min, max], or undefined for anything else: flags and settings share the rule. */
export function wholeNumber(value: string, min: number, max: number): number | undefined {
  if (!/^-?\d+$/.test(value.trim())) return undefined;
  const n = Number(value);
  return n >= min && n <= max ? n : undefined;
}

export interface IntegerFlag {
  min: number;
  max: number;
  /** A good value, shown in the fix. */
  example: number;
}

/** An integer flag's value, undefined when it was not given; anything else is one error line naming the fix. */
export function integerFlag(value: string | undefined, flag: string, { min, max, example }: IntegerFlag): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = wholeNumber(value, min, max);
  if (n === undefined)
    throw new UsageError(`${flag} must be a whole number from ${min} to ${max}, not '${value}'`, { fix: `pass ${flag} ${example}` });
  return n;
}

export function splitList(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** A script's own arguments, run as `node scripts/x.mts` or `npx zx scripts/x.mts` (zx leaves
 *  its own path and the script's in argv). `scriptUrl` is the script's import.meta.url. */
export function scriptArgs(scriptUrl: string, argv: string[] = process.argv): string[] {
  const self = fileURLToPath(scriptUrl);
  const at = argv.findIndex((arg, i) => i > 0 && resolve(arg) === self);
  return argv.slice(at > 0 ? at + 1 : 2);
}
