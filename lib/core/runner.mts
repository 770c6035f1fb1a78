// The only module that spawns processes. Every command passes through here so that dry-run,
// redaction of secrets and timing are applied in one place, whoever asks.
import { existsSync } from 'node:fs';
import { $ } from 'zx';
import {
  demuxStream,
  engineCall,
  engineSocket,
  parseJson,
  plainDockerExec,
  plainDockerRename,
  type EngineAnswer,
} from './engine-socket.mts';
import { CommandError } from './errors.mts';
import { createRedactor, secretsFromEnv } from './redact.mts';
import { silentUi, type Ui } from './ui.mts';

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Written to the child's stdin: the way secrets reach a command without touching argv. */
  input?: string;
  timeoutMs?: number;
}

export interface CommandResult {
  argv: string[];
  exitCode: number;
  stdout: string;
  stderr: string;
  ms: number;
  dryRun: boolean;
  /** Set when the command was answered through the Engine API socket instead of a process. */
  via?: 'engine-api';
}

export interface Runner {
  readonly dryRun: boolean;
  /** Changes something: printed, not run, under dry-run. Throws CommandError on failure. */
  run(argv: string[], options?: RunOptions): Promise<CommandResult>;
  /** Reads only: runs under dry-run too. Returns trimmed stdout, throws on failure. */
  read(argv: string[], options?: RunOptions): Promise<string>;
  /** Reads only and never throws: for questions like "is the engine there?". */
  probe(argv: string[], options?: RunOptions): Promise<CommandResult>;
  /**
   * A read from the Docker Engine API over its unix socket: what `docker ps` and `docker inspect`
   * ask, without starting a process (each docker CLI call costs 25 ms quiet, 300+ ms on a busy
   * VM, and a switch makes several). Undefined when the socket is not the engine the CLI talks
   * to (a tcp DOCKER_HOST, a docker context) or does not answer: then callers use the CLI.
   */
  engine?(path: string, method?: 'GET' | 'HEAD'): Promise<EngineAnswer | undefined>;
  /** The command as a shell line with secrets redacted: what dry-run and logs print. */
  format(argv: string[]): string;
  redact(text: string): string;
  addSecret(value: string | undefined): void;
  readonly history: readonly CommandResult[];
}

export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

export interface RunnerOptions {
  dryRun?: boolean;
  ui?: Ui;
  secrets?: string[];
  /** Added to every command's environment (e.g. DOCKER_HOST for a second engine). */
  env?: Record<string, string | undefined>;
}

export function createRunner(options: RunnerOptions = {}): Runner {
  const ui = options.ui ?? silentUi();
  const secrets = createRedactor([...secretsFromEnv(), ...(options.secrets ?? [])]);
  const history: CommandResult[] = [];
  const dryRun = options.dryRun ?? false;

  const redact = secrets.redact;
  const format = (argv: string[]) => redact(argv.map(shellQuote).join(' '));

  async function exec(argv: string[], opts: RunOptions): Promise<CommandResult> {
    const started = performance.now();
    const env = { ...process.env, ...options.env, ...opts.env };
    const processOutput = await $({
      cwd: opts.cwd,
      env: env as NodeJS.ProcessEnv,
      input: opts.input,
      timeout: opts.timeoutMs,
      nothrow: true,
      quiet: true,
      verbose: false,
    })`${argv}`;
    const result: CommandResult = {
      argv,
      exitCode: processOutput.exitCode ?? (processOutput.signal ? 128 : 1),
      stdout: processOutput.stdout,
      stderr: processOutput.stderr,
      ms: performance.now() - started,
      dryRun: false,
    };
    history.push(result);
    ui.debug(`$ ${format(argv)}  (${Math.round(result.ms)} ms, exit ${result.exitCode})`);
    return result;
  }

  function fail(result: CommandResult): never {
    throw new CommandError(format(result.argv), result.exitCode, redact(result.stderr || result.stdout));
  }

  const socket = engineSocket({ ...process.env, ...options.env });
  let socketWorks = socket !== undefined && existsSync(socket);
  /** A call on the socket; a socket that fails once (gone, no permission) is not tried again. */
  const call = async (method: string, path: string, body?: unknown, timeoutMs?: number) => {
    if (!socketWorks || !socket) return undefined;
    const answer = await engineCall(socket, method, path, body, timeoutMs);
    if (!answer) socketWorks = false;
    return answer;
  };

  const engine = async (path: string, method: 'GET' | 'HEAD' = 'GET'): Promise<EngineAnswer | undefined> => {
    const started = performance.now();
    const answer = await call(method, path);
    if (!answer) return undefined;
    ui.debug(`${method} ${path}  (${Math.round(performance.now() - started)} ms, HTTP ${answer.status})`);
    return { status: answer.status, body: parseJson(answer.data) };
  };

  /** A command the Engine API answered, recorded and logged like one that ran. */
  function answeredByEngine(argv: string[], exitCode: number, streams: { stdout: string; stderr: string }, started: number): CommandResult {
    const result: CommandResult = { argv, exitCode, ...streams, ms: performance.now() - started, dryRun: false, via: 'engine-api' };
    history.push(result);
    ui.debug(`$ ${format(argv)}  (${Math.round(result.ms)} ms, exit ${result.exitCode}, engine API)`);
    return result;
  }

  /** `docker exec` through the API: create, start attached, read the exit code. Undefined: use the CLI. */
  async function execViaEngine(argv: string[], opts: RunOptions): Promise<CommandResult | undefined> {
    const plain = plainDockerExec(argv);
    // stdin, or another engine picked per call, is the CLI's business.
    if (!plain || opts.input !== undefined || Object.keys(opts.env ?? {}).some((k) => k.startsWith('DOCKER_'))) return undefined;
    const started = performance.now();
    const created = await call('POST', `/containers/${encodeURIComponent(plain.container)}/exec`, {
      AttachStdout: true,
      AttachStderr: true,
      Cmd: plain.cmd,
    });
    // No such container, not running, ...: the CLI says it in its own words.
    if (created?.status !== 201) return undefined;
    const { Id: execId } = parseJson(created.data) as { Id: string };
    const output = await call('POST', `/exec/${execId}/start`, { Detach: false, Tty: false }, opts.timeoutMs);
    const state = output?.status === 200 ? await call('GET', `/exec/${execId}/json`) : undefined;
    const exitCode = state?.status === 200 ? (parseJson(state.data) as { ExitCode: number | null }).ExitCode : null;
    const streams =
      output?.status === 200
        ? demuxStream(output.data)
        : { stdout: '', stderr: output?.status === 0 ? `timed out after ${opts.timeoutMs} ms` : 'the engine did not finish the exec' };
    return answeredByEngine(argv, exitCode ?? 1, streams, started);
  }

  /** `docker rename` as one API call: two back to back leave a name unresolved for milliseconds,
   *  where two CLI processes leave it so for hundreds on a busy VM (the edge hands names over so). */
  async function renameViaEngine(argv: string[], opts: RunOptions): Promise<CommandResult | undefined> {
    const plain = plainDockerRename(argv);
    if (!plain || Object.keys(opts.env ?? {}).some((k) => k.startsWith('DOCKER_'))) return undefined;
    const started = performance.now();
    const answer = await call('POST', `/containers/${encodeURIComponent(plain.container)}/rename?name=${encodeURIComponent(plain.name)}`);
    // Not answered: the CLI tries, and says why in its own words.
    if (!answer || answer.status === 0) return undefined;
    const message =
      answer.status === 204 ? '' : ((parseJson(answer.data) as { message?: string } | undefined)?.message ?? `HTTP ${answer.status}`);
    return answeredByEngine(
      argv,
      answer.status === 204 ? 0 : 1,
      { stdout: '', stderr: message ? `Error response from daemon: ${message}` : '' },
      started,
    );
  }

  const execute = async (argv: string[], opts: RunOptions) =>
    (await execViaEngine(argv, opts)) ?? (await renameViaEngine(argv, opts)) ?? exec(argv, opts);

  return {
    dryRun,
    history,
    engine,
    format,
    redact,
    addSecret: secrets.add,
    async run(argv, opts = {}) {
      if (dryRun) {
        ui.info(`dry run: would run ${format(argv)}`);
        const result = { argv, exitCode: 0, stdout: '', stderr: '', ms: 0, dryRun: true };
        history.push(result);
        return result;
      }
      const result = await execute(argv, opts);
      if (result.exitCode !== 0) fail(result);
      return result;
    },
    async read(argv, opts = {}) {
      const result = await execute(argv, opts);
      if (result.exitCode !== 0) fail(result);
      return result.stdout.trim();
    },
    probe: (argv, opts = {}) => execute(argv, opts),
  };
}
