// One deploy per product at a time. mkdir is atomic on every filesystem we care about, so the
// directory is the lock and holder.json inside it says who holds it.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LockError } from '../core/errors.mts';
import { readSetting } from '../core/settings.mts';

export interface LockHolder {
  who: string;
  host: string;
  pid: number;
  started: string;
  tag: string;
  action: string;
}

export interface Lock {
  path: string;
  release(): void;
}

export interface LockOptions {
  wait?: boolean;
  waitTimeoutMs?: number;
  onWait?: (holder: LockHolder | undefined) => void;
  onStale?: (holder: LockHolder) => void;
}

export function whoAmI(): string {
  return readSetting(process.env, 'who') || process.env.SUDO_USER || userInfo().username;
}

function readHolder(path: string): LockHolder | undefined {
  try {
    return JSON.parse(readFileSync(join(path, 'holder.json'), 'utf8')) as LockHolder;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function describeHolder(holder: LockHolder | undefined): string {
  if (!holder) return 'another berth process (holder details not written yet)';
  return `${holder.who}@${holder.host} (pid ${holder.pid}, ${holder.action} ${holder.tag}, since ${holder.started})`;
}

export async function acquireLock(
  productStateDir: string,
  details: { tag: string; action: string },
  options: LockOptions = {},
): Promise<Lock> {
  mkdirSync(productStateDir, { recursive: true });
  const path = join(productStateDir, 'lock');
  const deadline = Date.now() + (options.waitTimeoutMs ?? 30 * 60_000);
  let announced = false;
  for (;;) {
    try {
      mkdirSync(path);
      const holder: LockHolder = { who: whoAmI(), host: hostname(), pid: process.pid, started: new Date().toISOString(), ...details };
      writeFileSync(join(path, 'holder.json'), `${JSON.stringify(holder)}\n`);
      return { path, release: () => rmSync(path, { recursive: true, force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = readHolder(path);
    // A holder on this host whose process is gone died mid-deploy (SIGKILL, reboot): take over.
    if (holder && holder.host === hostname() && !alive(holder.pid)) {
      options.onStale?.(holder);
      rmSync(path, { recursive: true, force: true });
      continue;
    }
    if (!holder && existsSync(path)) await sleep(50);
    const stillNoHolder = !readHolder(path) && existsSync(path);
    if (!options.wait && !stillNoHolder) {
      throw new LockError(`${productStateDir.split('/').pop()} is locked by ${describeHolder(readHolder(path))}`, {
        fix: `wait for it to finish, rerun with --wait, or remove ${path} if that deploy is dead`,
      });
    }
    if (Date.now() > deadline) throw new LockError(`gave up waiting for the lock held by ${describeHolder(readHolder(path))}`);
    if (options.wait && !announced) {
      options.onWait?.(readHolder(path));
      announced = true;
    }
    await sleep(250);
  }
}
