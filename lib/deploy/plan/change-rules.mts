// Which services a release changes, decided from facts gathered elsewhere (git, the ledger, the
// compose files' resolved view, the registry's digest of the target image). Pure: no I/O here, so every rule is unit-tested on its own.
import { posix } from 'node:path';
import type { BuildConfig } from '../../config/types.mts';

/** Release tags berth can diff are commit SHAs (what CI tags images with). */
export const SHA = /^[0-9a-f]{7,40}$/;

export function shortSha(sha: string): string {
  return SHA.test(sha) ? sha.slice(0, 7) : sha;
}

/** Repo-relative, forward slashes, no './' and no trailing '/'; the repo root itself is ''. */
export function normalizePath(path: string): string {
  const clean = posix.normalize(path.replaceAll('\\', '/')).replace(/\/+$/, '');
  return clean === '.' || clean === './' ? '' : clean.replace(/^\.\//, '');
}

/** The paths whose changes mean a service's image changed; undefined when the product declares none. */
export function servicePaths(build: BuildConfig | undefined): string[] | undefined {
  if (!build) return undefined;
  const context = normalizePath(build.context);
  const paths = [context, ...(build.paths ?? []).map(normalizePath)];
  if (build.dockerfile) {
    // Compose reads `dockerfile` relative to the context, a hand-written product may mean the repo:
    // watching both costs nothing and misses neither.
    paths.push(normalizePath(build.dockerfile), normalizePath(posix.join(context, build.dockerfile)));
  }
  return [...new Set(paths)];
}

export function pathCovers(path: string, file: string): boolean {
  const p = normalizePath(path);
  return p === '' || file === p || file.startsWith(`${p}/`);
}

export function filesUnder(files: string[], paths: string[]): string[] {
  return files.filter((file) => paths.some((path) => pathCovers(path, file)));
}

/** `registry:5000/ns/app-web:3f2a91c` -> `3f2a91c`; undefined for digests and untagged refs. */
export function tagOfImage(image: string | undefined): string | undefined {
  if (!image || image.includes('@')) return undefined;
  const colon = image.lastIndexOf(':');
  return colon > image.lastIndexOf('/') ? image.slice(colon + 1) : undefined;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** env_file entries of raw compose documents (string, list, or v2's list of {path}). */
export function envFilesOf(documents: unknown[]): string[] {
  const files: string[] = [];
  for (const doc of documents) {
    if (!isObj(doc) || !isObj(doc.services)) continue;
    for (const service of Object.values(doc.services)) {
      if (!isObj(service)) continue;
      const entries = Array.isArray(service.env_file) ? service.env_file : service.env_file === undefined ? [] : [service.env_file];
      for (const entry of entries) {
        const path = typeof entry === 'string' ? entry : isObj(entry) && typeof entry.path === 'string' ? entry.path : undefined;
        if (path) files.push(normalizePath(path));
      }
    }
  }
  return [...new Set(files)];
}

/** The files whose content shapes the resolved config: compose files, `.env`, env_file entries. */
export function configInputs(composeFiles: string[], envFiles: string[]): string[] {
  return [...new Set([...composeFiles.map(normalizePath), '.env', ...envFiles])];
}

/** JSON with sorted keys, so two views of the same config compare equal as text. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    isObj(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, v[k]]),
        )
      : v,
  );
}

/** Top-level keys of one service's resolved config that differ (added, removed or changed). */
export function configDifferences(before: unknown, after: unknown): string[] {
  if (!isObj(before) || !isObj(after)) return canonical(before) === canonical(after) ? [] : ['(whole service)'];
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return keys.filter((key) => canonical(before[key]) !== canonical(after[key]));
}

/** A path that appears in rendered config output, replaced (old files are rendered in a temp dir). */
export function replacePath(text: string, from: string, to: string): string {
  return from ? text.split(from).join(to) : text;
}

export interface ServiceFacts {
  /** undefined: the product declares no build paths for the service. */
  paths?: string[];
  /** The commit the running service was deployed from. */
  base?: string;
  /** Why there is no base commit to diff from. */
  baseProblem?: string;
  /** The running container's image is not the one the last release recorded. */
  drift?: string;
  /** Changed files under the service's paths, base..target. */
  files?: string[];
  /** Keys of the resolved compose config that differ from the config at base. */
  config?: string[];
  /** Containers of the service created from another config than the target's (plan/running-config.mts). */
  runningDiffers?: string[];
  /** How the registry's image for the target tag differs from the running one (imageDigestDiffers). */
  imageDiffers?: string;
}

export interface RunFacts {
  all?: boolean;
  /** The release being deployed, short: named in reasons. */
  release?: string;
  /** No release recorded for the product. */
  firstDeploy?: boolean;
  /** Why the target cannot be diffed (not a commit in the repo). */
  targetProblem?: string;
  /** Not a routine deploy (a rollback): the recorded images decide, not git. */
  imagesOnly?: string;
}

export interface ChangeDecision {
  changed: boolean;
  reason: string;
  /** Recreate even if the image is identical: what changed is the config (or the operator said --all). */
  force?: boolean;
}

const shortDigest = (digest: string) => digest.replace(/^sha256:/, '').slice(0, 12);

/**
 * Why the running images (each given by its repo digests) are not the registry's `digest` of
 * `repository`, or undefined when every one of them is. The same tag can name a new image when
 * only build args or the base image changed: git sees no change, the digest does.
 */
export function imageDigestDiffers(repository: string, digest: string, running: string[][]): string | undefined {
  const other = running.find((digests) => !digests.includes(`${repository}@${digest}`));
  if (!other) return undefined;
  const known = other.filter((d) => d.startsWith(`${repository}@`)).map((d) => shortDigest(d.slice(repository.length + 1)));
  if (known.length === 0) return `the running image has no digest from ${repository}`;
  return `registry ${shortDigest(digest)}, running ${known.join(', ')}: rebuilt with other build args or base image`;
}

export function describeFiles(files: string[]): string {
  const [first] = files;
  if (!first) return 'nothing';
  return files.length === 1 ? first : `${first} and ${files.length - 1} more file${files.length > 2 ? 's' : ''}`;
}

export function decideService(run: RunFacts, facts: ServiceFacts): ChangeDecision {
  if (run.all) return { changed: true, force: true, reason: '--all' };
  // What runs outranks every record: a config that never reached the containers is applied now.
  if (facts.runningDiffers?.length) {
    // git can name the keys when the compose inputs changed since the service's commit.
    const keys =
      facts.base && facts.config?.length ? `compose config changed since ${shortSha(facts.base)} (${facts.config.join(', ')})` : undefined;
    return {
      changed: true,
      force: true,
      reason: keys ?? `${facts.runningDiffers.join(', ')} runs another config than ${run.release ?? 'the target'}'s`,
    };
  }
  if (run.firstDeploy) return { changed: true, reason: 'first deploy: no release recorded' };
  if (run.imagesOnly) return { changed: true, reason: `${run.imagesOnly}: comparing images` };
  if (run.targetProblem) return { changed: true, reason: `${run.targetProblem}: comparing images` };
  if (facts.drift) return { changed: true, reason: facts.drift };
  if (!facts.base) return { changed: true, reason: `${facts.baseProblem ?? 'no deployed commit known'}: comparing images` };
  const since = shortSha(facts.base);
  if (facts.files && facts.files.length > 0) return { changed: true, reason: `${describeFiles(facts.files)} changed since ${since}` };
  if (facts.config && facts.config.length > 0) {
    return { changed: true, force: true, reason: `compose config changed since ${since} (${facts.config.join(', ')})` };
  }
  if (!facts.paths) return { changed: true, reason: 'no build paths in the product definition: comparing images' };
  // Not forced: the pull and the image comparison still decide, by local image id.
  if (facts.imageDiffers)
    return { changed: true, reason: `its image for ${run.release ?? 'the target'} is not the one running (${facts.imageDiffers})` };
  return { changed: false, reason: `unchanged since ${since}` };
}
