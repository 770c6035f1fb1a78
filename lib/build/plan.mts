// What to build: the release (the commit SHA, or a tag that says the tree was dirty) and one
// ImageBuild per service, merged from the product's build sections and the compose development
// view. Everything here reads; nothing is built.
import { createHash } from 'node:crypto';
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

/** The label holding an image's source key: equal keys mean equal inputs, so the image is reused. */
export const SOURCE_LABEL = 'berth.source';
export const REVISION_LABEL = 'org.opencontainers.image.revision';
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
  options: { allowDirty?: boolean; now?: Date } = {},
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
  const changed = (await runner.probe(gitStatusHere(repoDir))).stdout.split('\n').filter(Boolean);
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
  const untracked = (await runner.probe(gitUntracked(repoDir))).stdout.split('\0').filter(Boolean).sort();
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

/**
 * What the image is made of, as one hash: the committed git objects of its sources plus every
 * input that is not a file. Equal keys mean a build would produce the same image, so an image
 * carrying this key in the registry is tagged again instead of rebuilt. Base images named by a
 * tag are part of the key only by name: pass --rebuild after moving such a tag.
 */
export async function sourceKey(runner: Runner, repoDir: string, image: ImageBuild): Promise<string | undefined> {
  const objects = await runner.probe(gitObjectIds(repoDir, image.sources));
  // A source outside the repo (or uncommitted) has no object id: such an image is always built.
  if (objects.exitCode !== 0) return undefined;
  const inputs = {
    v: 1,
    objects: objects.stdout.trim().split('\n'),
    sources: image.sources,
    dockerfile: relative(repoDir, image.dockerfile),
    target: image.target ?? null,
    args: Object.entries(image.args)
      .filter(([name]) => !(RELEASE_ARGS as readonly string[]).includes(name))
      .sort(([a], [b]) => a.localeCompare(b)),
    secrets: Object.keys(image.secrets).sort(),
  };
  return createHash('sha256').update(JSON.stringify(inputs)).digest('hex').slice(0, 32);
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
export function buildInputs(image: ImageBuild, release: Release, key: string | undefined) {
  return {
    // A dirty build never becomes :latest: latest is what the branch's last commit built.
    tags: [`${image.repository}:${release.tag}`, ...(release.dirty ? [] : [`${image.repository}:latest`])],
    args: { ...image.args, BERTH_SHA: release.tag, BUILD_TIME: release.time },
    labels: { [REVISION_LABEL]: release.tag, ...(key ? { [SOURCE_LABEL]: key } : {}) },
  };
}
