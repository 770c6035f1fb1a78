import { closeSync, fchmodSync, fchownSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export interface AtomicOptions {
  /** The file's mode, whatever the umask (default 0644 less the umask). */
  mode?: number;
  /** Its owner: kept from the file it replaces. Only root can give a file away; anyone else keeps it. */
  owner?: { uid: number; gid: number };
}

/** Temp file in the same directory, fsync, rename: a reader (or a crash) never sees half a file. */
export function writeFileAtomic(path: string, content: string, options: AtomicOptions = {}): void {
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  const fd = openSync(temp, 'w', options.mode ?? 0o644);
  try {
    writeSync(fd, content);
    if (options.mode !== undefined) fchmodSync(fd, options.mode);
    if (options.owner) {
      try {
        fchownSync(fd, options.owner.uid, options.owner.gid);
      } catch {
        // Not root: the file stays ours, which is all a non-root writer can do.
      }
    }
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw error;
  }
  closeSync(fd);
  renameSync(temp, path);
}
