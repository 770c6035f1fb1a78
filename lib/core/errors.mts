// A few typed errors, each with the exit code the one exit point (lib/core/cli.mts) uses and, where we
// know it, the one thing the operator should do next.

export interface ErrorOptions {
  fix?: string;
  details?: string[];
  cause?: unknown;
}

export class BerthError extends Error {
  readonly exitCode: number = 1;
  readonly fix: string | undefined;
  readonly details: string[];

  constructor(message: string, options: ErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.fix = options.fix;
    this.details = options.details ?? [];
  }

  /** One line: what is wrong and, after a colon, how to fix it. */
  get line(): string {
    return this.fix ? `${this.message}: ${this.fix}` : this.message;
  }
}

/** Bad flags or arguments. */
export class UsageError extends BerthError {
  override readonly exitCode = 2;
}

/** A product definition (or the environment it reads) is wrong. */
export class ConfigError extends BerthError {
  override readonly exitCode = 2;
}

/** Docker, Compose or the registry cannot be used. */
export class EngineError extends BerthError {
  override readonly exitCode = 3;
}

/** Another deploy holds the product's lock. */
export class LockError extends BerthError {
  override readonly exitCode = 4;
}

/** A new release never became healthy or failed its smoke checks. */
export class HealthError extends BerthError {
  override readonly exitCode = 5;
}

/** A command the runner spawned exited non-zero. */
export class CommandError extends BerthError {
  readonly command: string;
  readonly status: number;
  readonly stderr: string;

  constructor(command: string, status: number, stderr: string, options: ErrorOptions = {}) {
    const last = stderr.trim().split('\n').filter(Boolean).pop() ?? '';
    super(`\`${command}\` exited ${status}${last ? `: ${last}` : ''}`, options);
    this.command = command;
    this.status = status;
    this.stderr = stderr;
  }
}

/** What went wrong, as one line of text, whatever was thrown. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** One line for a report: a berth error with its fix, anything else as its message. */
export function errorLine(error: unknown): string {
  return error instanceof BerthError ? error.line : errorMessage(error);
}
