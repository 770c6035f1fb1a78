// The .env berth writes into a product's checkout (lib/deploy/compose-env-file.mts) holds the
// deployed release for a hand-run compose; it is berth's state, not a change to the product. The
// digest of what berth last wrote is kept in the product's state dir, so change detection and the
// builder's clean-tree check can tell berth's own file from an operator's edit (any line of it).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic.mts';

const digestOf = (text: string) => createHash('sha256').update(text).digest('hex');

function markFile(stateDir: string): string {
  return join(stateDir, 'compose-env.sha256');
}

export function rememberEnvFile(stateDir: string, text: string): void {
  writeFileAtomic(markFile(stateDir), `${digestOf(text)}\n`);
}

/** Whether `<repoDir>/.env` is exactly what berth last wrote there. */
export function isBerthsEnvFile(repoDir: string, stateDir: string): boolean {
  const file = join(repoDir, '.env');
  const mark = markFile(stateDir);
  if (!existsSync(file) || !existsSync(mark)) return false;
  return readFileSync(mark, 'utf8').trim() === digestOf(readFileSync(file, 'utf8'));
}
