// The deployed release where Compose reads it by itself: the `.env` of the product's checkout.
// berth hands IMAGE_TAG, REGISTRY and BERTH_UPSTREAMS to Compose through the environment; an
// operator who runs `docker compose up -d` (or `docker-compose up -d`) by hand in the checkout has
// none of them, and Compose would start the default tag, or a proxy whose upstream mount is wrong.
// Both flavours read `.env` in the directory they run in (berth's --project-directory is the same
// directory), including COMPOSE_PROJECT_NAME and COMPOSE_FILE, so the hand-run command addresses
// berth's project with berth's files, not a new project named after the directory.
//
// berth's lines live in one marked block at the end of the file, rewritten whole on each deploy
// and rollback; every other line is the operator's and stays byte for byte. A block rather than
// editing keys in place: the operator sees which lines are berth's, berth never has to parse
// (or rewrite) a line it did not write, and an operator line that sets one of berth's keys stays
// as it was. Both flavours take the last value of a key, so the block, last, decides; the
// renderer names such lines so the deploy can say they no longer count.
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gitTracked } from '../commands/git.mts';
import type { Product } from '../config/load.mts';
import { ConfigError } from '../core/errors.mts';
import type { Runner } from '../core/runner.mts';
import { writeFileAtomic } from '../releases/atomic.mts';
import { isBerthsEnvFile, rememberEnvFile } from '../releases/env-file-mark.mts';
import { imageTag } from './drift.mts';

export const BLOCK_BEGIN = '# >>> berth: the deployed release, rewritten by each deploy and rollback (lines outside this block are yours)';
export const BLOCK_END = '# <<< berth';

/** The variables berth's compose calls get, and nothing else: never a secret. */
export const RELEASE_KEYS = ['IMAGE_TAG', 'REGISTRY', 'BERTH_UPSTREAMS'] as const;

/** Compose's own variables that make a bare `compose up` address berth's project and files. */
export const PROJECT_KEYS = ['COMPOSE_PROJECT_NAME', 'COMPOSE_FILE'] as const;

export function composeEnvFile(product: Pick<Product, 'repoDir'>): string {
  return join(product.repoDir, '.env');
}

/** What the block says, in its order: the project and its files, then the release's variables. */
export function composeEnvValues(
  product: Pick<Product, 'projectName' | 'composeFiles'>,
  env: Record<string, string>,
): [key: string, value: string][] {
  const files = product.composeFiles.find((f) => f.includes(':'));
  if (files) {
    throw new ConfigError(`compose file ${files} has a ':' in its name, which COMPOSE_FILE cannot hold`, { fix: 'rename the file' });
  }
  const release = RELEASE_KEYS.filter((key) => env[key] !== undefined).map((key) => [key, env[key] as string] as [string, string]);
  return [['COMPOSE_PROJECT_NAME', product.projectName], ['COMPOSE_FILE', product.composeFiles.join(':')], ...release];
}

/** A value as both flavours' dotenv readers take it literally: bare when plain, else single-quoted
 *  (no `$` expansion, no `#` comment). */
export function envValue(key: string, value: string): string {
  if (/^[A-Za-z0-9_./:@+,=-]*$/.test(value)) return value;
  if (!/['\n\r\0]/.test(value)) return `'${value}'`;
  throw new ConfigError(`${key} (${JSON.stringify(value)}) cannot be written to a .env file`, {
    fix: 'use a value without quotes or line breaks',
  });
}

/** The key a .env line sets (`KEY=`, `export KEY=`), or undefined for a comment or blank line. */
export function lineKey(line: string): string | undefined {
  return /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=/.exec(line)?.[1];
}

export interface RenderedEnvFile {
  text: string;
  /** Keys of berth's block that an operator line also sets: berth's value wins. */
  shadowed: string[];
}

/** The file with berth's block (re)written last and every other line kept as it was. */
export function renderComposeEnvFile(existing: string | undefined, values: [string, string][]): RenderedEnvFile {
  const keys = new Set(values.map(([key]) => key));
  const berths = new Set<string>([...keys, ...RELEASE_KEYS, ...PROJECT_KEYS]);
  const lines = (existing ?? '').split('\n');
  if (lines.at(-1) === '') lines.pop();
  const kept: string[] = [];
  let inBlock = false;
  lines.forEach((line, i) => {
    if (line === BLOCK_BEGIN) {
      inBlock = true;
    } else if (inBlock && line === BLOCK_END) {
      inBlock = false;
    } else if (inBlock && berths.has(lineKey(line) ?? '')) {
      // berth's own line: the new block replaces it.
    } else {
      // A line an operator added inside the block is theirs; a block whose end marker was deleted
      // ends at the first line that is not berth's.
      if (inBlock && !lines.slice(i).includes(BLOCK_END)) inBlock = false;
      kept.push(line);
    }
  });
  const shadowed = [...new Set(kept.map(lineKey).filter((key): key is string => key !== undefined && keys.has(key)))];
  const block = [BLOCK_BEGIN, ...values.map(([key, value]) => `${key}=${envValue(key, value)}`), BLOCK_END];
  return { text: `${[...kept, ...block].join('\n')}\n`, shadowed };
}

/** Whether git tracks the product's .env: then berth leaves it alone (see composeEnvProblem). */
export async function composeEnvTracked(runner: Runner, product: Pick<Product, 'repoDir'>): Promise<boolean> {
  const listed = await runner.probe(gitTracked(product.repoDir, ['.env']));
  return listed.exitCode === 0 && listed.stdout.split('\0').some(Boolean);
}

/** Why berth does not write a tracked .env, and the fix: one warning line. */
export function trackedEnvWarning(product: Pick<Product, 'repoDir'>): string {
  return (
    `${composeEnvFile(product)} is tracked by git, so berth did not write the deployed release into it ` +
    `(a local edit would stop the next checkout), and a hand-run compose up there does not run it: ` +
    `move what it holds into the compose files, then git rm --cached .env, add .env to .gitignore and commit`
  );
}

/**
 * Writes berth's block into the product's .env atomically, keeping the file's mode and owner (a
 * new one gets the checkout's owner and 0644: it holds no secret). A symlinked .env is written
 * where it points.
 */
export function writeComposeEnvFile(
  product: Pick<Product, 'repoDir' | 'projectName' | 'composeFiles' | 'stateDir'>,
  env: Record<string, string>,
): RenderedEnvFile & { file: string; changed: boolean } {
  const link = composeEnvFile(product);
  const file = existsSync(link) ? realpathSync(link) : link;
  const existing = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  const rendered = renderComposeEnvFile(existing, composeEnvValues(product, env));
  if (rendered.text === existing) {
    rememberEnvFile(product.stateDir, rendered.text);
    return { ...rendered, file, changed: false };
  }
  const like = statSync(existing !== undefined ? file : product.repoDir);
  writeFileAtomic(file, rendered.text, {
    mode: existing !== undefined ? like.mode & 0o7777 : 0o644,
    owner: { uid: like.uid, gid: like.gid },
  });
  rememberEnvFile(product.stateDir, rendered.text);
  return { ...rendered, file, changed: true };
}

/**
 * Whether the checkout's .env is exactly what berth last wrote there. Change detection treats an
 * untracked input touched after the last release as a change git cannot explain; berth's own
 * write of the deployed release, a moment after that release was recorded, is not one.
 */
export function envFileIsBerths(product: Pick<Product, 'repoDir' | 'stateDir'>): boolean {
  return isBerthsEnvFile(product.repoDir, product.stateDir);
}

/**
 * The product's own services a `--only` deploy left on another tag: `.env` holds one IMAGE_TAG,
 * the deployed one, so a hand-run compose up there would move these to it. Each as `service tag`.
 */
export function leftOnOtherTags(
  product: Pick<Product, 'services'>,
  running: Record<string, { image: string }>,
  tag: string,
  only: string[] | undefined,
): { service: string; tag: string }[] {
  if (!only?.length) return [];
  return Object.values(product.services)
    .filter((s) => (s.kind === 'http' || s.kind === 'worker') && !only.includes(s.name))
    .flatMap((s) => {
      const image = running[s.name]?.image;
      const at = image ? imageTag(image) : undefined;
      return at && at !== tag ? [{ service: s.name, tag: at }] : [];
    });
}
