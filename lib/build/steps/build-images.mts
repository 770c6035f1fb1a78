// Build the images the registry lacks: with buildx bake (all at once, from one definition), else
// one `docker build` per image, a few at a time, each followed by its push.
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { bakeArgv, dockerBuildArgv } from '../../commands/buildx.mts';
import { dockerPush } from '../../commands/docker.mts';
import { CommandError } from '../../core/errors.mts';
import type { Step } from '../../core/pipeline.mts';
import { mapLimit } from '../../core/pool.mts';
import { formatSeconds } from '../../core/ui.mts';
import { bakeDefinition, bakeDigests, cacheExportRefused, type BakeFile, type CacheExport } from '../bake.mts';
import { builderEnv, builderFromOutput, type Builder } from '../builder.mts';
import { imagesWith, releaseOf, type BuildContext } from '../context.mts';
import { unreachableBaseError } from '../failure.mts';
import { buildInputs, type ImageBuild } from '../plan.mts';

/** The development view's files as text: where a build arg's variable is found. */
function developmentView(ctx: BuildContext): string[] {
  return (ctx.product.def.buildComposeFiles ?? []).flatMap((file) => {
    try {
      return [readFileSync(resolve(ctx.product.repoDir, file), 'utf8')];
    } catch {
      return [];
    }
  });
}

/** A failed build: an unreachable base image said once with the setting that avoids it; anything
 *  else as the command line and the end of its output as details (secrets already redacted). */
function buildFailure(ctx: BuildContext, error: unknown, images: ImageBuild[]): unknown {
  if (!(error instanceof CommandError)) return error;
  const unreachable = unreachableBaseError(error, images, developmentView(ctx));
  if (unreachable) return unreachable;
  const lines = error.stderr.trim().split('\n').filter(Boolean);
  return new CommandError(error.command, error.status, error.stderr, {
    fix: `the build of ${images.map((i) => i.service).join(', ')} failed; its last output lines follow`,
    details: lines.slice(-25),
  });
}

function fallbackArgv(ctx: BuildContext, builder: Builder, image: ImageBuild): string[] {
  const state = ctx.state[image.service];
  const inputs = buildInputs(image, releaseOf(ctx), state?.source);
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

function definitionOf(ctx: BuildContext, images: ImageBuild[], cacheExport: CacheExport = 'registry') {
  return bakeDefinition(
    images.map((image) => ({ image, source: ctx.state[image.service]?.source })),
    releaseOf(ctx),
    { cache: ctx.options.cache, cacheExport },
  );
}

async function runFallback(ctx: BuildContext, builder: Builder): Promise<void> {
  const images = imagesWith(ctx, 'build');
  await mapLimit(images, ctx.options.parallel, async (image) => {
    const started = performance.now();
    let output: string;
    try {
      const result = await ctx.runner.run(fallbackArgv(ctx, builder, image), {
        env: builderEnv(builder),
        cwd: image.context,
        timeoutMs: 60 * 60_000,
      });
      output = `${result.stdout}\n${result.stderr}`;
    } catch (error) {
      throw buildFailure(ctx, error, [image]);
    }
    const state = ctx.state[image.service];
    if (!state) return;
    state.builtWith = builderFromOutput(output) ?? (builder.kind === 'legacy' ? 'legacy' : 'buildkit');
    if (ctx.options.push) {
      for (const tag of buildInputs(image, releaseOf(ctx), state.source).tags)
        await ctx.runner.run(dockerPush(tag), { timeoutMs: 30 * 60_000 });
    }
    state.ms = Math.round(performance.now() - started);
    ctx.ui.info(`${image.service}: built with ${state.builtWith}${ctx.options.push ? ' and pushed' : ''} (${formatSeconds(state.ms)})`);
  });
  const ran = new Set(images.map((image) => ctx.state[image.service]?.builtWith));
  if (builder.kind === 'buildkit' && ran.has('legacy'))
    ctx.ui.warn(`${builder.docker} was expected to build with BuildKit but its output is the legacy builder's`);
}

/** One `buildx bake` of a definition written to a scratch directory: the pushed digest per target. */
async function bake(ctx: BuildContext, builder: Builder, definition: BakeFile): Promise<Record<string, string>> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-bake-'));
  try {
    const file = join(dir, 'bake.json');
    const metadataFile = join(dir, 'metadata.json');
    await writeFile(file, `${JSON.stringify(definition, null, 2)}\n`);
    await ctx.runner.run(bakeArgv(builder.docker, file, { push: ctx.options.push, metadataFile }), {
      env: builderEnv(builder),
      cwd: ctx.product.repoDir,
      timeoutMs: 60 * 60_000,
    });
    return bakeDigests(await readFile(metadataFile, 'utf8').catch(() => '{}'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function runBake(ctx: BuildContext, builder: Builder): Promise<void> {
  const images = imagesWith(ctx, 'build');
  const started = performance.now();
  let digests: Record<string, string>;
  try {
    digests = await bake(ctx, builder, definitionOf(ctx, images));
  } catch (error) {
    // buildx refuses before building anything, so building again without the export costs nothing.
    const refused = ctx.options.cache === 'registry' && error instanceof CommandError && cacheExportRefused(error.stderr);
    if (!refused) throw buildFailure(ctx, error, images);
    ctx.ui.warn(
      "buildx's docker driver cannot export a registry cache (:buildcache): building with the cache inline in the pushed images instead (a docker-container builder or the containerd image store can export it)",
    );
    try {
      digests = await bake(ctx, builder, definitionOf(ctx, images, 'inline'));
    } catch (retryError) {
      throw buildFailure(ctx, retryError, images);
    }
  }
  const ms = Math.round(performance.now() - started);
  for (const image of images) {
    const state = ctx.state[image.service];
    if (!state) continue;
    state.builtWith = 'bake';
    state.ms = ms;
    if (digests[image.service]) state.digest = digests[image.service];
    ctx.ui.info(`${image.service}: built with bake${ctx.options.push ? ' and pushed' : ''} (${formatSeconds(ms)})`);
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
    const env = Object.entries(builderEnv(builder))
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    if (builder.kind === 'bake') {
      ctx.ui.detail(JSON.stringify(definitionOf(ctx, imagesWith(ctx, 'build')), null, 2).split('\n'));
      return `dry run: would write the bake definition above to bake.json and run ${env} ${ctx.runner.format(bakeArgv(builder.docker, 'bake.json', { push: ctx.options.push }))}`;
    }
    const commands = imagesWith(ctx, 'build').flatMap((image) => [
      `${env} ${ctx.runner.format(fallbackArgv(ctx, builder, image))}`,
      ...(ctx.options.push ? buildInputs(image, releaseOf(ctx), undefined).tags.map((tag) => ctx.runner.format(dockerPush(tag))) : []),
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
