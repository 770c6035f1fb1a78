// A real browser for tests: Debian's headless chromium driven over the DevTools protocol with
// Node's own WebSocket. Its profile is a temp dir; close() ends its process group (by the PID this
// started) and removes the profile.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** The chromium binary, or undefined when none is installed. */
export function findChromium(): string | undefined {
  for (const name of ['chromium', 'chromium-browser']) {
    const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim();
    if (found) return found;
  }
  return undefined;
}

interface CdpMessage {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { message: string };
}

export interface Page {
  send<T = Record<string, unknown>>(method: string, params?: Record<string, unknown>): Promise<T>;
  /** Resolves with the params of the next `method` event. */
  next(method: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Every event so far. */
  events: CdpMessage[];
}

export interface Browser {
  pid: number;
  page: Page;
  close(): Promise<void>;
}

export async function launchBrowser(binary: string): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'berth-chromium-'));
  const child: ChildProcess = spawn(
    binary,
    [
      '--headless',
      // Tests run as root in CI, where chromium refuses its sandbox.
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--no-default-browser-check',
      '--disable-extensions',
      '--remote-debugging-port=0',
      `--user-data-dir=${profile}`,
      'about:blank',
    ],
    { detached: true, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const pid = child.pid as number;
  const close = async () => {
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      // Already gone.
    }
    for (let i = 0; i < 50 && child.exitCode === null && child.signalCode === null; i++) await sleep(100);
    // Whatever of its group outlived the browser (a renderer, the zygote) goes now.
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // The whole group is gone already.
    }
    rmSync(profile, { recursive: true, force: true });
  };
  try {
    // chromium writes the port it chose into the profile once it listens.
    const portFile = join(profile, 'DevToolsActivePort');
    for (let i = 0; i < 300 && !existsSync(portFile); i++) {
      if (child.exitCode !== null) throw new Error(`chromium exited with ${child.exitCode}: ${stderr.slice(-500)}`);
      await sleep(100);
    }
    const port = readFileSync(portFile, 'utf8').split('\n')[0];
    const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { type: string; webSocketDebuggerUrl: string }[];
    const target = targets.find((t) => t.type === 'page');
    if (!target) throw new Error('chromium opened no page');
    const page = await connect(target.webSocketDebuggerUrl);
    return { pid, page, close };
  } catch (error) {
    await close();
    throw error;
  }
}

async function connect(url: string): Promise<Page> {
  const socket = new WebSocket(url);
  await new Promise((resolve, reject) => {
    socket.addEventListener('open', resolve, { once: true });
    socket.addEventListener('error', () => reject(new Error(`could not connect to ${url}`)), { once: true });
  });
  const pending = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  const waiters: { method: string; resolve: (p: Record<string, unknown>) => void }[] = [];
  const events: CdpMessage[] = [];
  socket.addEventListener('message', (event: MessageEvent) => {
    const message = JSON.parse(String(event.data)) as CdpMessage;
    if (message.id !== undefined) {
      const call = pending.get(message.id);
      pending.delete(message.id);
      if (message.error) call?.reject(new Error(message.error.message));
      else call?.resolve(message.result ?? {});
      return;
    }
    events.push(message);
    const index = waiters.findIndex((w) => w.method === message.method);
    if (index >= 0) waiters.splice(index, 1)[0]?.resolve(message.params ?? {});
  });
  let nextId = 0;
  return {
    events,
    send: <T,>(method: string, params: Record<string, unknown> = {}) =>
      new Promise<T>((resolve, reject) => {
        const id = ++nextId;
        pending.set(id, { resolve: resolve as (v: Record<string, unknown>) => void, reject });
        socket.send(JSON.stringify({ id, method, params }));
      }),
    next: (method, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${method} within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({
          method,
          resolve: (params) => {
            clearTimeout(timer);
            resolve(params);
          },
        });
      }),
  };
}
