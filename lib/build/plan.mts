// What to build: the release (the commit SHA, or a tag that says the tree was dirty) and one
// ImageBuild per service, merged from the product's build sections and the compose development
// view. Everything here reads; nothing is built.
import { createHash } from 'node:crypto';
import { isBerthsEnvFile } from '../releases/env-file-mark.mts';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import { YAML } from 'zx';
import { composeConfig, type ComposeFlavour } from '../commands/compose.mts';
import { gitRevParse } from '../commands/git.mts';
import { gitDiffHead, gitObjectIds, gitStatusHere, gitUntracked } from '../commands/git-release.mts';
import type { Product } from '../config/load.mts';
import { ConfigError, UsageError } from '../core/errors.mts';
import type { Runner } from '../core/runner.mts';
import { REVISION_LABEL } from '../engine/images.mts';

/** The label holding an image's source key: equal keys mean equal inputs, so the image is reused. */
export const SOURCE_LABEL = 'berth.source';
/** The key's parts apart, so a build that cannot reuse :latest names what differs (reuse.mts). */
export const SOURCE_PART_LABELS = {
  /** Hash of the git objects of the sources and where the Dockerfile is. */
  files: 'berth.source.files',
  /** NAME=<hash of the value>,... : which args, never their values. */
  args: 'berth.source.args',
  target: 'berth.source.target',
  /** Secret ids, comma-separated (ids only: the values never reach a build input). */
  secrets: 'berth.source.secrets',
} as const;
export { REVISION_LABEL };
/** Build args berth always passes; they are not part of the source key (they change every build). */
export const RELEASE_ARGS = ['BERTH_SHA', 'BUILD_TIME'] as const;

export interface Release {
  /** The commit: `git rev-parse HEAD` of the product's repo. */
  sha: string;
  /** The image tag: the SHA, or `<sha>-dirty-<hash of the changes>` with --allow-dirty. */
  tag: string;
  dirty: boolean;
  /** BUILD_TIME, ISO 8601. */
  time: string;
}

export interface ImageBuild {
  service: string;
  /** registry/name, without a tag. */
  repository: string;
  context: string;
  /** Absolute path. */
  dockerfile: string;
  target?: string;
  /** Product, compose and --build-arg values merged (later wins); the release args come on top. */
  args: Record<string, string>;
  /** BuildKit secret id -> environment variable name. */
  secrets: Record<string, string>;
  /** Paths relative to the repo whose content makes up the image (context, Dockerfile, `paths`). */
  sources: string[];
}

export interface ComposeBuildSection {
  context?: string;
  dockerfile?: string;
  target?: string;
  args?: Record<string, string | number | null> | string[];
}

export type ComposeBuildView = Record<string, { build?: ComposeBuildSection | string }>;

const short = (sha: string) => sha.slice(0, 12);

export async function resolveRelease(
  runner: Runner,
  repoDir: string,
  options: { allowDirty?: boolean; now?: Date; stateDir?: string } = {},
): Promise<Release> {
  const head = await runner.probe(gitRevParse(repoDir));
  if (head.exitCode !== 0) {
    throw new UsageError(`${repoDir} is not a git repository, and images are tagged with the commit SHA`, {
      fix: 'build from a clone of the product repo',
    });
  }
  const sha = head.stdout.trim();
  const time = (options.now ?? new Date()).toISOString();
  // Not read(): it trims, and the first porcelain line starts with a space.
  // The .env a deploy on this machine wrote (the deployed release, for a hand-run compose) is
  // berth's, not a change of the product: the tree is as clean as git says without it.
  const berths = (line: string) => line === '?? .env' && options.stateDir !== undefined && isBerthsEnvFile(repoDir, options.stateDir);
  const changed = (await runner.probe(gitStatusHere(repoDir))).stdout
    .split('\n')
    .filter(Boolean)
    .filter((line) => !berths(line));
  if (changed.length === 0) return { sha, tag: sha, dirty: false, time };
  if (!options.allowDirty) {
    const names = changed
      .slice(0, 3)
      .map((line) => line.slice(3))
      .join(', ');
    throw new UsageError(
      `${repoDir} has uncommitted changes (${changed.length} file${changed.length > 1 ? 's' : ''}: ${names}${changed.length > 3 ? ', ...' : ''}), so the SHA would not describe the images`,
      {
        fix: 'commit them, or pass --allow-dirty for a build tagged <sha>-dirty-<hash>',
      },
    );
  }
  // The tag names the exact changes: the same dirty tree gives the same tag, any edit a new one.
  const hash = createHash('sha256').update((await runner.probe(gitDiffHead(repoDir))).stdout);
  const untracked = (await runner.probe(gitUntracked(repoDir))).stdout
    .split('\0')
    .filter(Boolean)
    .filter((file) => !berths(`?? ${file}`))
    .sort();
  for (const file of untracked) {
    hash.update(`\0${file}\0`);
    hash.update(await readFile(resolve(repoDir, file)).catch(() => Buffer.alloc(0)));
  }
  return { sha, tag: `${sha}-dirty-${hash.digest('hex').slice(0, 12)}`, dirty: true, time };
}

export function describeRelease(release: Release): string {
  return release.dirty ? `${short(release.sha)} + uncommitted changes (tag ${release.tag})` : short(release.sha);
}

/** Reads the development view (buildComposeFiles) as compose resolves it. */
export async function loadBuildView(
  runner: Runner,
  flavour: ComposeFlavour,
  product: Product,
  env: Record<string, string>,
): Promise<ComposeBuildView | undefined> {
  const files = product.def.buildComposeFiles;
  if (!files?.length) return undefined;
  const missing = files.filter((f) => !existsSync(resolve(product.repoDir, f)));
  if (missing.length > 0) {
    throw new ConfigError(`buildComposeFiles: ${missing.map((f) => resolve(product.repoDir, f)).join(', ')} does not exist`, {
      fix: `fix buildComposeFiles in ${product.file}`,
    });
  }
  const project = { flavour, name: product.projectName, directory: product.repoDir, files: files.map((f) => resolve(product.repoDir, f)) };
  const text = await runner.read(composeConfig(project), { env });
  return ((YAML.parse(text) ?? {}) as { services?: ComposeBuildView }).services ?? {};
}

/** Files of the production view that give `service` a build: section (each file read on its own). */
export function productionFilesWithBuild(product: Pick<Product, 'repoDir' | 'composeFiles'>, service: string): string[] {
  return product.composeFiles.filter((file) => {
    try {
      const parsed = YAML.parse(readFileSync(resolve(product.repoDir, file), 'utf8')) as {
        services?: Record<string, { build?: unknown } | null>;
      } | null;
      return parsed?.services?.[service]?.build !== undefined;
    } catch {
      return false;
    }
  });
}

/** One error per service of the production view that would make the VM build. */
export function productionViewErrors(product: Pick<Product, 'repoDir' | 'composeFiles' | 'services'>): string[] {
  return Object.keys(product.services).flatMap((service) =>
    productionFilesWithBuild(product, service).map(
      (file) =>
        `${file}: services.${service} has a build: section, but ${file} is in composeFiles (the production view); move build: to a file in buildComposeFiles so the VM only pulls`,
    ),
  );
}

function composeArgs(args: ComposeBuildSection['args']): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(args)) {
    for (const item of args) {
      const eq = item.indexOf('=');
      if (eq > 0) out[item.slice(0, eq)] = item.slice(eq + 1);
    }
  } else {
    for (const [name, value] of Object.entries(args ?? {})) if (value !== null && value !== undefined) out[name] = String(value);
  }
  return out;
}

export interface PlanOptions {
  only?: string[];
  /** --build-arg values: for every image, over the product's and compose's. */
  buildArgs?: Record<string, string>;
}

/** Every service with a build section (product or development view) becomes one ImageBuild. */
export function planImages(product: Product, view: ComposeBuildView | undefined, options: PlanOptions = {}): ImageBuild[] {
  const images: ImageBuild[] = [];
  for (const [name, service] of Object.entries(product.services)) {
    if (options.only && !options.only.includes(name)) continue;
    const raw = view?.[name]?.build;
    const composed: ComposeBuildSection | undefined = typeof raw === 'string' ? { context: raw } : raw;
    const own = service.build;
    const contextPath = own?.context ?? composed?.context;
    if (!contextPath) continue;
    const context = resolve(product.repoDir, contextPath);
    const dockerfile = resolve(context, own?.dockerfile ?? composed?.dockerfile ?? 'Dockerfile');
    const sources = [relative(product.repoDir, context)];
    const dockerfileRel = relative(context, dockerfile);
    if (dockerfileRel.startsWith('..') || isAbsolute(dockerfileRel)) sources.push(relative(product.repoDir, dockerfile));
    sources.push(...(own?.paths ?? []));
    const target = own?.target ?? composed?.target;
    images.push({
      service: name,
      repository: service.repository,
      context,
      dockerfile,
      ...(target ? { target } : {}),
      args: { ...composeArgs(composed?.args), ...own?.args, ...options.buildArgs },
      secrets: { ...own?.secrets },
      sources,
    });
  }
  return images;
}

/** What an image is made of: the source key and, apart, the parts it hashes. */
export interface SourceParts {
  key: string;
  files: string;
  /** Build arg name -> hash of its value (release args left out). */
  args: Record<string, string>;
  target: string;
  secrets: string[];
}

const hash = (text: string, length: number) => createHash('sha256').update(text).digest('hex').slice(0, length);

/**
 * What the image is made of, as one hash: the committed git objects of its sources plus every
 * input that is not a file. Equal keys mean a build would produce the same image, so an image
 * carrying this key in the registry is tagged again instead of rebuilt. Base images named by a
 * tag are part of the key only by name: pass --rebuild after moving such a tag. The release args
 * (BERTH_SHA, BUILD_TIME) are left out, or no image would ever be reused.
 */
export async function sourceParts(runner: Runner, repoDir: string, image: ImageBuild): Promise<SourceParts | undefined> {
  const objects = await runner.probe(gitObjectIds(repoDir, image.sources));
  // A source outside the repo (or uncommitted) has no object id: such an image is always built.
  if (objects.exitCode !== 0) return undefined;
  const args = Object.entries(image.args)
    .filter(([name]) => !(RELEASE_ARGS as readonly string[]).includes(name))
    .sort(([a], [b]) => a.localeCompare(b));
  const inputs = {
    v: 1,
    objects: objects.stdout.trim().split('\n'),
    sources: image.sources,
    dockerfile: relative(repoDir, image.dockerfile),
    target: image.target ?? null,
    args,
    secrets: Object.keys(image.secrets).sort(),
  };
  return {
    // Unchanged from the key's first version: images pushed before the parts were labelled still match.
    key: hash(JSON.stringify(inputs), 32),
    files: hash(JSON.stringify([inputs.objects, inputs.sources, inputs.dockerfile]), 16),
    args: Object.fromEntries(args.map(([name, value]) => [name, hash(value, 12)])),
    target: image.target ?? '',
    secrets: inputs.secrets,
  };
}

export async function sourceKey(runner: Runner, repoDir: string, image: ImageBuild): Promise<string | undefined> {
  return (await sourceParts(runner, repoDir, image))?.key;
}

/** The labels that carry a source key and its parts on the image; an empty part is left out. */
export function sourceLabels(source: SourceParts): Record<string, string> {
  const parts: Record<string, string> = {
    [SOURCE_PART_LABELS.args]: Object.entries(source.args)
      .map(([name, value]) => `${name}=${value}`)
      .join(','),
    [SOURCE_PART_LABELS.target]: source.target,
    [SOURCE_PART_LABELS.secrets]: source.secrets.join(','),
  };
  return {
    [SOURCE_LABEL]: source.key,
    [SOURCE_PART_LABELS.files]: source.files,
    ...Object.fromEntries(Object.entries(parts).filter(([, value]) => value !== '')),
  };
}

/** Build args of one's own that carry the release (`VERSION: ${BERTH_SHA}`): part of the source
 *  key, they change every commit, so the image is never reused. One warning per image. */
export function releaseFedArgs(images: ImageBuild[], release: Pick<Release, 'tag' | 'time'>): string[] {
  return images.flatMap((image) => {
    const fed = Object.entries(image.args)
      .filter(
        ([name, value]) =>
          !(RELEASE_ARGS as readonly string[]).includes(name) && (value.includes(release.tag) || value.includes(release.time)),
      )
      .map(([name]) => name);
    if (fed.length === 0) return [];
    const args = fed.join(', ');
    return [
      `${image.service}: build arg ${args} carr${fed.length > 1 ? 'y' : 'ies'} the release, so ${image.service} is rebuilt on every commit; declare ARG BERTH_SHA (or BUILD_TIME) in its Dockerfile instead: berth passes it to every build and an unchanged image is still reused`,
    ];
  });
}

/** Secrets whose environment variable is empty: BuildKit would build without them. */
export function missingSecrets(images: ImageBuild[], env: NodeJS.ProcessEnv): string[] {
  return images.flatMap((image) =>
    Object.entries(image.secrets)
      .filter(([, variable]) => !env[variable])
      .map(([id, variable]) => `${image.service}: secret ${id} reads ${variable}, which is not set`),
  );
}

/** Tags, build args and labels of one image in this release: the same for bake and docker build. */
export function buildInputs(image: ImageBuild, release: Release, source: SourceParts | undefined) {
  return {
    // A dirty build never becomes :latest: latest is what the branch's last commit built.
    tags: [`${image.repository}:${release.tag}`, ...(release.dirty ? [] : [`${image.repository}:latest`])],
    args: { ...image.args, BERTH_SHA: release.tag, BUILD_TIME: release.time },
    labels: { [REVISION_LABEL]: release.tag, ...(source ? sourceLabels(source) : {}) },
  };
}
