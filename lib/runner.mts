// The only module that spawns processes. Every command passes through here so that dry-run,
// redaction of secrets and timing are applied in one place, whoever asks.
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { $ } from 'zx';
import { CommandError } from './errors.mts';
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

export interface EngineAnswer {
  status: number;
  body: unknown;
}

/** The unix socket the docker CLI would use, when berth can be sure which one it is. */
export function engineSocket(env: Record<string, string | undefined>, dockerConfigDir = env.DOCKER_CONFIG ?? join(homedir(), '.docker')): string | undefined {
  if (env.DOCKER_CONTEXT && env.DOCKER_CONTEXT !== 'default') return undefined;
  const host = env.DOCKER_HOST;
  if (host) return host.startsWith('unix://') ? host.slice('unix://'.length) : undefined;
  try {
    const config = JSON.parse(readFileSync(join(dockerConfigDir, 'config.json'), 'utf8')) as { currentContext?: string };
    if (config.currentContext && config.currentContext !== 'default') return undefined;
  } catch {
    // No CLI config: the default context.
  }
  return '/var/run/docker.sock';
}

const SECRET_NAME = /(TOKEN|PASSWORD|PASSWD|SECRET|API_KEY|PRIVATE_KEY)/i;

/** Values of environment variables whose names say they are secrets. */
export function secretsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return Object.entries(env)
    .filter(([name, value]) => SECRET_NAME.test(name) && value && value.length >= 4)
    .map(([, value]) => value as string);
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
  const secrets = new Set<string>([...secretsFromEnv(), ...(options.secrets ?? [])]);
  const history: CommandResult[] = [];
  const dryRun = options.dryRun ?? false;

  const redact = (text: string) => {
    let out = text;
    for (const secret of secrets) out = out.split(secret).join('[REDACTED]');
    return out;
  };
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
  const engine = (path: string, method: 'GET' | 'HEAD' = 'GET'): Promise<EngineAnswer | undefined> => {
    if (!socketWorks || !socket) return Promise.resolve(undefined);
    const started = performance.now();
    return new Promise((resolve) => {
      const req = request({ socketPath: socket, path, method, timeout: 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          ui.debug(`${method} ${path} on ${socket}  (${Math.round(performance.now() - started)} ms, HTTP ${res.statusCode})`);
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown });
          } catch {
            resolve({ status: res.statusCode ?? 0, body: text });
          }
        });
      });
      // A socket berth may not read (no permission) or that is gone: the CLI from now on.
      const giveUp = () => {
        socketWorks = false;
        resolve(undefined);
      };
      req.on('error', giveUp);
      req.on('timeout', () => {
        req.destroy();
        giveUp();
      });
      req.end();
    });
  };

  return {
    dryRun,
    history,
    engine,
    format,
    redact,
    addSecret(value) {
      if (value && value.length >= 4) secrets.add(value);
    },
    async run(argv, opts = {}) {
      if (dryRun) {
        ui.info(`dry run: would run ${format(argv)}`);
        const result = { argv, exitCode: 0, stdout: '', stderr: '', ms: 0, dryRun: true };
        history.push(result);
        return result;
      }
      const result = await exec(argv, opts);
      if (result.exitCode !== 0) fail(result);
      return result;
    },
    async read(argv, opts = {}) {
      const result = await exec(argv, opts);
      if (result.exitCode !== 0) fail(result);
      return result.stdout.trim();
    },
    probe: (argv, opts = {}) => exec(argv, opts),
  };
}
