// `build <product>`: release -> plan -> login -> ask the registry -> builder -> build and push ->
// tag reused images -> verify. Meant for CI or a builder machine; the VM only pulls what this pushed.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bakeArgv, dockerBuildArgv } from '../commands/buildx.mts';
import type { ComposeFlavour } from '../commands/compose.mts';
import { dockerPush } from '../commands/docker.mts';
import type { Product, Settings } from '../config/load.mts';
import { checkEngine, detectCompose } from '../engine/engine.mts';
import { CommandError, ConfigError, UsageError } from '../core/errors.mts';
import { runSteps, type PipelineContext, type Step } from '../core/pipeline.mts';
import { mapLimit } from '../core/pool.mts';
import { createRegistryClient, loginRegistry, registryCredentials, type RegistryClient, type RegistryCredentials } from '../registry/client.mts';
import type { Runner } from '../core/runner.mts';
import { formatSeconds, type Ui } from '../core/ui.mts';
import { bakeDefinition, bakeDigests, type CacheMode } from './bake.mts';
import { builderEnv, builderFromOutput, detectBuilder, type Builder, type BuilderKind } from './builder.mts';
import { getManifest, imageLabels, manifestDigest, putManifest, type Manifest } from '../registry/manifests.mts';
import {
  buildInputs,
  describeRelease,
  loadBuildView,
  missingSecrets,
  planImages,
  productionViewErrors,
  resolveRelease,
  sourceKey,
  SOURCE_LABEL,
  type ImageBuild,
  type Release,
} from './plan.mts';

export interface BuildOptions {
  /** Push to the registry; without it images are only built and tagged locally. */
  push: boolean;
  only?: string[];
  allowDirty?: boolean;
  /** --build-arg values, for every image. */
  buildArgs?: Record<string, string>;
  /** Build even what the registry already has. */
  rebuild?: boolean;
  cache: CacheMode;
  /** Images built at once by the `docker build` fallback (bake schedules its own). */
  parallel: number;
  dryRun?: boolean;
}

/** build: not in the registry; reuse: an image with the same source key is tagged again; present: the release is there. */
export type ImageAction = 'build' | 'reuse' | 'present';

export interface ImageState {
  action: ImageAction;
  reason: string;
  key?: string;
  reuse?: Manifest;
  /** Registry digest of <repository>:<release tag>, once known. */
  digest?: string;
  /** What really built it, read from the build output where the fallback ran. */
  builtWith?: BuilderKind;
  ms?: number;
}

export interface BuildContext extends PipelineContext {
  product: Product;
  settings: Settings;
  runner: Runner;
  ui: Ui;
  options: BuildOptions;
  release?: Release;
  flavour?: ComposeFlavour;
  images: ImageBuild[];
  state: Record<string, ImageState>;
  builder?: Builder;
  credentials?: RegistryCredentials;
  registry?: RegistryClient;
  /** The docker clients to consider, first one first; default: every `docker` on PATH. */
  dockerClients?: string[];
}

export function createBuildContext(product: Product, settings: Settings, runner: Runner, ui: Ui, options: BuildOptions): BuildContext {
  return { product, settings, runner, ui, options, images: [], state: {}, timings: {} };
}

const release = (ctx: BuildContext): Release => {
  if (!ctx.release) throw new Error('the source step did not run');
  return ctx.release;
};
const imagesWith = (ctx: BuildContext, action: ImageAction) => ctx.images.filter((image) => ctx.state[image.service]?.action === action);
const ref = (image: ImageBuild, tag: string) => `${image.repository}:${tag}`;

/** A failed build: the command line, and the end of its output as details (secrets already redacted). */
function buildFailure(error: unknown, service: string): unknown {
  if (!(error instanceof CommandError)) return error;
  const lines = error.stderr.trim().split('\n').filter(Boolean);
  return new CommandError(error.command, error.status, error.stderr, {
    fix: `the build of ${service} failed; its last output lines follow`,
    details: lines.slice(-25),
  });
}

export const source: Step<BuildContext> = {
  id: 'source',
  title: (ctx) => `release of ${ctx.product.name}`,
  async run(ctx) {
    ctx.release = await resolveRelease(ctx.runner, ctx.product.repoDir, { allowDirty: ctx.options.allowDirty });
    if (ctx.release.dirty) ctx.ui.warn(`building uncommitted changes: tag ${ctx.release.tag} (never :latest)`);
    ctx.ui.info(`release ${describeRelease(ctx.release)}`);
  },
};

export const plan: Step<BuildContext> = {
  id: 'plan',
  title: 'plan images',
  async run(ctx) {
    const { product, options } = ctx;
    const unknown = (options.only ?? []).filter((s) => !(s in product.services));
    if (unknown.length > 0) {
      throw new UsageError(`unknown service${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} in --only for ${product.name}`, { fix: `use ${Object.keys(product.services).join(', ')}` });
    }
    const production = productionViewErrors(product);
    if (production.length > 0) {
      throw new ConfigError(`${product.name}'s production view builds: ${production.join('; ')}`, { details: production });
    }
    const rel = release(ctx);
    if (product.def.buildComposeFiles?.length) ctx.flavour = await detectCompose(ctx.runner);
    // The development view may use these too, e.g. `VERSION: ${BERTH_SHA:-dev}`.
    const env = { IMAGE_TAG: rel.tag, REGISTRY: product.registry, BERTH_SHA: rel.tag, BUILD_TIME: rel.time };
    const view = ctx.flavour ? await loadBuildView(ctx.runner, ctx.flavour, product, env) : undefined;
    ctx.images = planImages(product, view, { only: options.only, buildArgs: options.buildArgs });
    if (ctx.images.length === 0) {
      throw new ConfigError(`no service of ${product.name}${options.only ? ` in --only ${options.only.join(',')}` : ''} has a build section`, {
        fix: `give services a build: { context } in ${product.file}, or build: sections in its buildComposeFiles`,
      });
    }
    if (options.push) ctx.credentials = registryCredentials(ctx.settings.env);
    const missing = missingSecrets(ctx.images, ctx.settings.env);
    if (missing.length > 0) throw new ConfigError(`${missing.join('; ')}`, { fix: 'export the variable (CI: from the secret store) and rerun' });
    for (const image of ctx.images) {
      const key = rel.dirty ? undefined : await sourceKey(ctx.runner, product.repoDir, image);
      ctx.state[image.service] = { action: 'build', reason: options.push ? 'not in the registry' : 'local build', ...(key ? { key } : {}) };
      ctx.ui.debug(`${image.service}: ${image.context} (${image.sources.join(', ')}), source key ${key ?? 'none'}`);
    }
  },
};

export const login: Step<BuildContext> = {
  id: 'login',
  title: (ctx) => `log in to ${ctx.product.registry}`,
  enabled: (ctx) => ctx.options.push,
  skip: (ctx) => (ctx.credentials ? false : 'no BERTH_REGISTRY_USER/BERTH_REGISTRY_TOKEN: an open registry, or docker is logged in already'),
  async run(ctx) {
    if (ctx.credentials) await loginRegistry(ctx.runner, ctx.product.registry, ctx.credentials);
  },
};

export const askRegistry: Step<BuildContext> = {
  id: 'registry',
  title: 'ask the registry what it has',
  enabled: (ctx) => ctx.options.push,
  skip: (ctx) => (ctx.options.rebuild ? 'rebuild asked for (--rebuild)' : false),
  async run(ctx) {
    const tag = release(ctx).tag;
    ctx.registry = createRegistryClient(ctx.product.registry, ctx.credentials);
    const client = ctx.registry;
    await Promise.all(
      ctx.images.map(async (image) => {
        const state = ctx.state[image.service];
        if (!state) return;
        const present = await manifestDigest(client, image.repository, tag, ctx.credentials);
        if (present) {
          Object.assign(state, { action: 'present', reason: `${ref(image, tag.slice(0, 12))} is already in the registry`, digest: present });
          return;
        }
        if (!state.key) return;
        const latest = await imageLabels(client, image.repository, 'latest', ctx.credentials);
        if (latest?.[SOURCE_LABEL] === state.key) {
          const manifest = await getManifest(client, image.repository, 'latest', ctx.credentials);
          if (manifest) Object.assign(state, { action: 'reuse', reason: 'same sources as :latest, tagged again without a build', reuse: manifest });
        } else if (latest) {
          state.reason = 'sources changed since :latest';
        }
      }),
    );
    for (const image of ctx.images) {
      const state = ctx.state[image.service];
      if (state) ctx.ui.info(`${image.service}: ${state.action} (${state.reason})`);
    }
  },
};

export const chooseBuilder: Step<BuildContext> = {
  id: 'builder',
  title: 'choose the builder',
  enabled: (ctx) => imagesWith(ctx, 'build').length > 0,
  async run(ctx) {
    await checkEngine(ctx.runner);
    const builder = await detectBuilder(ctx.runner, ctx.dockerClients);
    ctx.builder = builder;
    ctx.ui.info(`${builder.summary}${builder.kind !== 'bake' && ctx.options.push ? ', then docker push' : ''}`);
    if (builder.kind === 'legacy') {
      const needy = imagesWith(ctx, 'build').filter((image) => Object.keys(image.secrets).length > 0);
      if (needy.length > 0) {
        throw new ConfigError(`${needy.map((i) => i.service).join(', ')} need${needy.length === 1 ? 's' : ''} BuildKit secrets, which the legacy builder cannot pass`, {
          fix: 'install the buildx plugin (Debian: docker-buildx; Docker: docker-buildx-plugin) on this builder',
        });
      }
      if (ctx.options.cache === 'registry') ctx.ui.warn('the legacy builder cannot use a registry cache: building with the local cache only');
    }
  },
};

function fallbackArgv(ctx: BuildContext, builder: Builder, image: ImageBuild): string[] {
  const state = ctx.state[image.service];
  const inputs = buildInputs(image, release(ctx), state?.key);
  const kind = builder.kind === 'legacy' ? 'legacy' : 'buildkit';
  // docker build has no cache-to: BuildKit's inline cache rides along in the pushed :latest.
  const inline = ctx.options.cache === 'registry' && kind === 'buildkit';
  return dockerBuildArgv(builder.docker, kind, {
    context: image.context,
    dockerfile: image.dockerfile,
    tags: inputs.tags,
    ...(image.target ? { target: image.target } : {}),
    args: inline ? { ...inputs.args, BUILDKIT_INLINE_CACHE: '1' } : inputs.args,
    labels: inputs.labels,
    secrets: image.secrets,
    cacheFrom: inline ? [`${image.repository}:latest`] : [],
  });
}

async function runFallback(ctx: BuildContext, builder: Builder): Promise<void> {
  const images = imagesWith(ctx, 'build');
  await mapLimit(images, ctx.options.parallel, async (image) => {
    const started = performance.now();
    let output: string;
    try {
      const result = await ctx.runner.run(fallbackArgv(ctx, builder, image), { env: builderEnv(builder), cwd: image.context, timeoutMs: 60 * 60_000 });
      output = `${result.stdout}\n${result.stderr}`;
    } catch (error) {
      throw buildFailure(error, image.service);
    }
    const state = ctx.state[image.service];
    if (!state) return;
    state.builtWith = builderFromOutput(output) ?? (builder.kind === 'legacy' ? 'legacy' : 'buildkit');
    if (ctx.options.push) {
      for (const tag of buildInputs(image, release(ctx), state.key).tags) await ctx.runner.run(dockerPush(tag), { timeoutMs: 30 * 60_000 });
    }
    state.ms = Math.round(performance.now() - started);
    ctx.ui.info(`${image.service}: built with ${state.builtWith}${ctx.options.push ? ' and pushed' : ''} (${formatSeconds(state.ms)})`);
  });
  const ran = new Set(images.map((image) => ctx.state[image.service]?.builtWith));
  if (builder.kind === 'buildkit' && ran.has('legacy')) ctx.ui.warn(`${builder.docker} was expected to build with BuildKit but its output is the legacy builder's`);
}

async function runBake(ctx: BuildContext, builder: Builder): Promise<void> {
  const images = imagesWith(ctx, 'build');
  const definition = bakeDefinition(
    images.map((image) => ({ image, key: ctx.state[image.service]?.key })),
    release(ctx),
    { cache: ctx.options.cache },
  );
  const dir = await mkdtemp(join(tmpdir(), 'berth-bake-'));
  try {
    const file = join(dir, 'bake.json');
    const metadataFile = join(dir, 'metadata.json');
    await writeFile(file, `${JSON.stringify(definition, null, 2)}\n`);
    const started = performance.now();
    try {
      await ctx.runner.run(bakeArgv(builder.docker, file, { push: ctx.options.push, metadataFile }), { env: builderEnv(builder), cwd: ctx.product.repoDir, timeoutMs: 60 * 60_000 });
    } catch (error) {
      throw buildFailure(error, images.map((i) => i.service).join(', '));
    }
    const digests = bakeDigests(await readFile(metadataFile, 'utf8').catch(() => '{}'));
    for (const image of images) {
      const state = ctx.state[image.service];
      if (!state) continue;
      state.builtWith = 'bake';
      state.ms = Math.round(performance.now() - started);
      if (digests[image.service]) state.digest = digests[image.service];
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export const build: Step<BuildContext> = {
  id: 'build',
  title: (ctx) => {
    const n = imagesWith(ctx, 'build').length;
    return `build ${n} image${n === 1 ? '' : 's'}${ctx.options.push ? ' and push' : ''}`;
  },
  enabled: (ctx) => imagesWith(ctx, 'build').length > 0,
  skip(ctx) {
    if (!ctx.options.dryRun) return false;
    const builder = ctx.builder;
    if (!builder) return 'dry run: no builder';
    const env = Object.entries(builderEnv(builder)).map(([k, v]) => `${k}=${v}`).join(' ');
    if (builder.kind === 'bake') {
      const definition = bakeDefinition(imagesWith(ctx, 'build').map((image) => ({ image, key: ctx.state[image.service]?.key })), release(ctx), { cache: ctx.options.cache });
      ctx.ui.detail(JSON.stringify(definition, null, 2).split('\n'));
      return `dry run: would write the bake definition above to bake.json and run ${env} ${ctx.runner.format(bakeArgv(builder.docker, 'bake.json', { push: ctx.options.push }))}`;
    }
    const commands = imagesWith(ctx, 'build').flatMap((image) => [
      `${env} ${ctx.runner.format(fallbackArgv(ctx, builder, image))}`,
      ...(ctx.options.push ? buildInputs(image, release(ctx), undefined).tags.map((tag) => ctx.runner.format(dockerPush(tag))) : []),
    ]);
    ctx.ui.detail(commands);
    return `dry run: would run the ${commands.length} commands above, ${ctx.options.parallel} image${ctx.options.parallel === 1 ? '' : 's'} at a time`;
  },
  async run(ctx) {
    const builder = ctx.builder;
    if (!builder) throw new Error('the builder step did not run');
    if (builder.kind === 'bake') await runBake(ctx, builder);
    else await runFallback(ctx, builder);
  },
};

export const tagReused: Step<BuildContext> = {
  id: 'tag',
  title: 'tag unchanged images with the release',
  enabled: (ctx) => imagesWith(ctx, 'reuse').length > 0,
  skip(ctx) {
    if (!ctx.options.dryRun) return false;
    return `dry run: would tag ${imagesWith(ctx, 'reuse').map((image) => `${image.repository}@${ctx.state[image.service]?.reuse?.digest} as :${release(ctx).tag}`).join(', ')}`;
  },
  async run(ctx) {
    const client = ctx.registry;
    if (!client) throw new Error('the registry step did not run');
    await Promise.all(
      imagesWith(ctx, 'reuse').map(async (image) => {
        const state = ctx.state[image.service];
        if (!state?.reuse) return;
        state.digest = await putManifest(client, image.repository, release(ctx).tag, state.reuse, ctx.credentials);
      }),
    );
  },
};

export const verify: Step<BuildContext> = {
  id: 'verify',
  title: 'verify the registry has the release',
  enabled: (ctx) => ctx.options.push,
  skip: (ctx) => (ctx.options.dryRun ? 'dry run' : false),
  async run(ctx) {
    const client = (ctx.registry ??= createRegistryClient(ctx.product.registry, ctx.credentials));
    const rel = release(ctx);
    const missing: string[] = [];
    await Promise.all(
      ctx.images.map(async (image) => {
        const state = ctx.state[image.service];
        if (!state) return;
        const digest = await manifestDigest(client, image.repository, rel.tag, ctx.credentials);
        if (!digest) missing.push(ref(image, rel.tag));
        else state.digest = digest;
        if (state.action !== 'present' && !rel.dirty && (await manifestDigest(client, image.repository, 'latest', ctx.credentials)) !== digest) {
          missing.push(`${image.repository}:latest (not the release)`);
        }
      }),
    );
    if (missing.length > 0) throw new ConfigError(`the registry does not hold ${missing.join(', ')} after the push`, { fix: 'check the registry (another build pushing at once?) and rerun' });
  },
};

export const buildSteps: Step<BuildContext>[] = [source, plan, login, askRegistry, chooseBuilder, build, tagReused, verify];

export interface ImageResult {
  ref: string;
  action: 'built' | 'reused' | 'present' | 'planned';
  reason: string;
  digest?: string;
  builtWith?: BuilderKind;
  ms?: number;
}

export interface BuildResult {
  product: string;
  sha: string;
  tag: string;
  dirty: boolean;
  pushed: boolean;
  result: 'ok' | 'dry-run';
  builder?: { kind: BuilderKind; docker: string; version: string };
  images: Record<string, ImageResult>;
  durationsMs: Record<string, number>;
}

export async function buildProduct(ctx: BuildContext, steps: Step<BuildContext>[] = buildSteps): Promise<BuildResult> {
  const started = performance.now();
  await runSteps(ctx, steps);
  const rel = release(ctx);
  const images: Record<string, ImageResult> = {};
  for (const image of ctx.images) {
    const state = ctx.state[image.service];
    if (!state) continue;
    const action = state.action === 'build' ? (ctx.options.dryRun ? 'planned' : 'built') : state.action === 'reuse' ? 'reused' : 'present';
    images[image.service] = {
      ref: ref(image, rel.tag),
      action,
      reason: state.reason,
      ...(state.digest ? { digest: state.digest } : {}),
      ...(state.builtWith ? { builtWith: state.builtWith } : {}),
      ...(state.ms !== undefined ? { ms: state.ms } : {}),
    };
  }
  return {
    product: ctx.product.name,
    sha: rel.sha,
    tag: rel.tag,
    dirty: rel.dirty,
    pushed: ctx.options.push && !ctx.options.dryRun,
    result: ctx.options.dryRun ? 'dry-run' : 'ok',
    ...(ctx.builder ? { builder: { kind: ctx.builder.kind, docker: ctx.builder.docker, version: ctx.builder.version } } : {}),
    images,
    durationsMs: { ...ctx.timings, total: Math.round(performance.now() - started) },
  };
}

/** The one line an operator reads at the end. */
export function summarize(result: BuildResult): string {
  const group = (action: ImageResult['action']) =>
    Object.entries(result.images)
      .filter(([, image]) => image.action === action)
      .map(([name]) => name);
  const parts = [
    group('built').length ? `built ${group('built').join(', ')}` : result.result === 'dry-run' ? '' : 'built nothing',
    group('reused').length ? `reused ${group('reused').join(', ')} (unchanged)` : '',
    group('present').length ? `already in the registry: ${group('present').join(', ')}` : '',
    group('planned').length ? `would build ${group('planned').join(', ')}` : '',
  ].filter(Boolean);
  const where = result.pushed ? ', pushed' : result.result === 'dry-run' ? ' (dry run)' : ', local only (no --push)';
  return `${result.product} ${result.tag}: ${parts.join('; ')}${where} (${formatSeconds(result.durationsMs.total ?? 0)})`;
}
