// The Docker Engine API over its unix socket: the transport the runner uses for reads and for
// `docker exec`, instead of starting a docker CLI process each time. On a busy 2-core VM a CLI
// call costs 300+ ms of CPU scheduling alone, and a switch makes several of them.
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface EngineAnswer {
  status: number;
  body: unknown;
}

/** The unix socket the docker CLI would use, when berth can be sure which one it is. */
export function engineSocket(
  env: Record<string, string | undefined>,
  dockerConfigDir = env.DOCKER_CONFIG ?? join(homedir(), '.docker'),
): string | undefined {
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

/** One HTTP call on the socket. Undefined when the socket does not answer (gone, no permission);
 *  status 0 when the engine took longer than timeoutMs (the socket itself works). */
export function engineCall(
  socket: string,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 30_000,
): Promise<{ status: number; data: Buffer } | undefined> {
  return new Promise((resolve) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers = payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) };
    const req = request({ socketPath: socket, path, method, headers, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, data: Buffer.concat(chunks) }));
      res.on('error', () => resolve(undefined));
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => {
      resolve({ status: 0, data: Buffer.alloc(0) });
      req.destroy();
    });
    req.end(payload);
  });
}

export function parseJson(data: Buffer): unknown {
  const text = data.toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Splits Docker's multiplexed stream (8-byte frame headers: stream, 0, 0, 0, size) into stdout and stderr. */
export function demuxStream(data: Buffer): { stdout: string; stderr: string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let at = 0;
  while (at + 8 <= data.length) {
    const kind = data[at];
    const size = data.readUInt32BE(at + 4);
    const frame = data.subarray(at + 8, at + 8 + size);
    (kind === 2 ? err : out).push(frame);
    at += 8 + size;
  }
  return { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

/** `docker exec CONTAINER CMD...` with no options: what the runner may run through the API. */
/** `docker rename OLD NEW`, which the runner sends as one Engine API call. */
export function plainDockerRename(argv: string[]): { container: string; name: string } | undefined {
  const [docker, rename, container, name, ...rest] = argv;
  if (docker !== 'docker' || rename !== 'rename' || !container || !name || rest.length > 0 || container.startsWith('-')) return undefined;
  return { container, name };
}

export function plainDockerExec(argv: string[]): { container: string; cmd: string[] } | undefined {
  const [docker, exec, container, ...cmd] = argv;
  if (docker !== 'docker' || exec !== 'exec' || !container || container.startsWith('-') || cmd.length === 0) return undefined;
  return { container, cmd };
}
