// A throwaway registry on 127.0.0.1 for the demo and the tests. Loopback registries need no TLS
// (Docker treats 127.0.0.0/8 as insecure by default), so push and pull work with no setup.
// Debian's docker-registry runs as a plain child process; without it, the registry:2 image.
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findExecutable, spawnDetached } from './daemon.mts';
import { EngineError } from '../core/errors.mts';
import type { Runner } from '../core/runner.mts';

export interface LocalRegistry {
  /** host:port, e.g. 127.0.0.1:40123: prefix image names with it. */
  address: string;
  stop(): Promise<void>;
}

export interface LocalRegistryOptions {
  /** Default: a free port picked by the kernel. */
  port?: number;
  /** How long to wait for /v2/ to answer. */
  readyTimeoutMs?: number;
}

/** A port nothing listens on right now (5000 is often taken by another registry). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    await response.body?.cancel();
    return response.status === 200;
  } catch {
    return false;
  }
}

async function waitReady(url: string, timeoutMs: number, alive: () => boolean): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && alive()) {
    if (await answers(url)) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

function registryConfig(root: string, port: number): string {
  return [
    'version: 0.1',
    'log:',
    '  level: warn',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${root}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '',
  ].join('\n');
}

export async function startLocalRegistry(runner: Runner, options: LocalRegistryOptions = {}): Promise<LocalRegistry> {
  const port = options.port ?? (await freePort());
  const address = `127.0.0.1:${port}`;
  const readyUrl = `http://${address}/v2/`;
  const timeoutMs = options.readyTimeoutMs ?? 20_000;
  const binary = await findExecutable('docker-registry');

  if (binary) {
    const dir = await mkdtemp(join(tmpdir(), 'berth-registry-'));
    const config = join(dir, 'config.yml');
    const logFile = join(dir, 'registry.log');
    await writeFile(config, registryConfig(join(dir, 'data'), port));
    const daemon = spawnDetached([binary, 'serve', config], { logFile });
    const stop = async () => {
      await daemon.stop();
      await rm(dir, { recursive: true, force: true });
    };
    if (!(await waitReady(readyUrl, timeoutMs, daemon.running))) {
      const log = await readFile(logFile, 'utf8').catch(() => '');
      await stop();
      throw new EngineError(`the local registry did not answer on ${readyUrl}`, { details: log.trim().split('\n').slice(-10) });
    }
    return { address, stop };
  }

  // No docker-registry binary: the registry image (pulled if the hub is reachable).
  const name = `berth-registry-${port}`;
  try {
    await runner.run(['docker', 'run', '-d', '--name', name, '-p', `${address}:5000`, 'registry:2']);
  } catch (error) {
    throw new EngineError('cannot start a local registry', {
      fix: 'install docker-registry (Debian: apt-get install docker-registry) or make registry:2 pullable',
      cause: error,
    });
  }
  const stop = async () => {
    await runner.probe(['docker', 'rm', '--force', '--volumes', name]);
  };
  if (!(await waitReady(readyUrl, timeoutMs, () => true))) {
    await stop();
    throw new EngineError(`the registry container ${name} did not answer on ${readyUrl}`);
  }
  return { address, stop };
}
