// The only module that talks to the operator. A command's result (the status table, a report, the
// summary of a run, --help) goes to stdout, where a script or a pipe can take it; everything
// about getting there (steps, spinners, warnings, errors) goes to stderr. With --json, stdout is
// the JSON's alone: results printed along the way go to stderr. A TTY gets an ora spinner,
// anything else (cron, CI, pipes) gets plain '==> ' lines.
import chalk from 'chalk';
import ora, { type Ora } from 'ora';

export interface StepHandle {
  update(text: string): void;
  succeed(note?: string): void;
  skip(reason: string): void;
  fail(message: string): void;
}

export interface Ui {
  readonly verbose: boolean;
  step(title: string): StepHandle;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug(message: string): void;
  detail(lines: string[]): void;
  /** The command's result for a reader, as plain lines: stdout, or stderr when --json owns stdout. */
  result(lines: string | string[]): void;
  /** The result as JSON on stdout (--json). */
  json(value: unknown): void;
}

export interface UiOptions {
  verbose?: boolean;
  tty?: boolean;
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  out?: NodeJS.WritableStream;
  /** --json was given: stdout carries the JSON and nothing else. */
  json?: boolean;
}

export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
}

export function createUi(options: UiOptions = {}): Ui {
  const stream = options.stream ?? process.stderr;
  const out = options.out ?? process.stdout;
  const tty = options.tty ?? (Boolean(stream.isTTY) && !process.env.CI);
  const verbose = options.verbose ?? false;
  const write = (line: string) => stream.write(`${line}\n`);
  const resultStream = options.json ? stream : out;

  return {
    verbose,
    step(title) {
      const started = Date.now();
      const took = () => formatSeconds(Date.now() - started);
      if (tty) {
        const spinner: Ora = ora({ text: title, stream }).start();
        return {
          update: (text) => (spinner.text = `${title}: ${text}`),
          succeed: (note) => spinner.succeed(`${title} ${chalk.dim(`(${took()})${note ? ` ${note}` : ''}`)}`),
          skip: (reason) => spinner.info(`${title} ${chalk.dim(`skipped: ${reason}`)}`),
          fail: (message) => spinner.fail(`${title} ${chalk.red(message)} ${chalk.dim(`(${took()})`)}`),
        };
      }
      write(`==> ${title}`);
      return {
        update: (text) => write(`    ${text}`),
        succeed: (note) => write(`    ok (${took()})${note ? ` ${note}` : ''}`),
        skip: (reason) => write(`    skipped: ${reason}`),
        fail: (message) => write(`    FAILED (${took()}): ${message}`),
      };
    },
    info: (message) => write(tty ? `${chalk.cyan('i')} ${message}` : `    ${message}`),
    warn: (message) => write(tty ? chalk.yellow(`! ${message}`) : `warning: ${message}`),
    error: (message) => write(tty ? chalk.red(`error: ${message}`) : `error: ${message}`),
    debug: (message) => {
      if (verbose) write(tty ? chalk.dim(message) : `    ${message}`);
    },
    detail: (lines) => {
      for (const line of lines) write(tty ? chalk.dim(`  | ${line}`) : `  | ${line}`);
    },
    result: (lines) => {
      for (const line of typeof lines === 'string' ? [lines] : lines) resultStream.write(`${line}\n`);
    },
    json: (value) => out.write(`${JSON.stringify(value, null, 2)}\n`),
  };
}

/** For library callers and tests that want no output at all. */
export function silentUi(): Ui {
  const none = () => {};
  return {
    verbose: false,
    step: () => ({ update: none, succeed: none, skip: none, fail: none }),
    info: none,
    warn: none,
    error: none,
    debug: none,
    detail: none,
    result: none,
    json: none,
  };
}
