// Per image: is the release already there (present), or does :latest carry the same source key
// (reuse: tag it again, no build)? Whatever is neither stays "build", with what differs from
// :latest as its reason.
import { gitChangedFiles } from '../../commands/git.mts';
import type { Step } from '../../core/pipeline.mts';
import { createRegistryClient } from '../../registry/client.mts';
import { getManifest, imageLabels, manifestDigest } from '../../registry/manifests.mts';
import { releaseOf, taggedRef, type BuildContext } from '../context.mts';
import { REVISION_LABEL, SOURCE_LABEL, type ImageBuild } from '../plan.mts';
import { filesDiffer, reuseMiss, type FileChanges } from '../reuse.mts';

/** Files changed under the image's sources between :latest's commit and this one. */
async function changedSince(ctx: BuildContext, image: ImageBuild, revision: string | undefined): Promise<FileChanges> {
  if (!revision) return { unknown: ':latest names no commit' };
  const paths = image.sources.map((source) => source || '.');
  const diff = await ctx.runner.probe(gitChangedFiles(ctx.product.repoDir, revision, releaseOf(ctx).sha, paths));
  // A shallow CI clone lacks older commits: say so rather than guess.
  if (diff.exitCode !== 0)
    return { unknown: `its commit ${revision.slice(0, 12)} is not in this clone; fetch more history to name the files` };
  return { names: diff.stdout.split('\0').filter(Boolean) };
}

export const askRegistry: Step<BuildContext> = {
  id: 'registry',
  title: 'ask the registry what it has',
  enabled: (ctx) => ctx.options.push,
  skip: (ctx) => (ctx.options.rebuild ? 'rebuild asked for (--rebuild)' : false),
  async run(ctx) {
    const tag = releaseOf(ctx).tag;
    ctx.registry = createRegistryClient(ctx.product.registry, ctx.credentials);
    const client = ctx.registry;
    await Promise.all(
      ctx.images.map(async (image) => {
        const state = ctx.state[image.service];
        if (!state) return;
        const present = await manifestDigest(client, image.repository, tag, ctx.credentials);
        if (present) {
          Object.assign(state, {
            action: 'present',
            reason: `${taggedRef(image, tag.slice(0, 12))} is already in the registry`,
            digest: present,
          });
          return;
        }
        const source = state.source;
        if (!source) return;
        const latest = await imageLabels(client, image.repository, 'latest', ctx.credentials);
        if (!latest) {
          state.reason = 'not in the registry, and no :latest to reuse';
        } else if (latest[SOURCE_LABEL] === source.key) {
          const manifest = await getManifest(client, image.repository, 'latest', ctx.credentials);
          if (manifest)
            Object.assign(state, { action: 'reuse', reason: 'same sources as :latest, tagged again without a build', reuse: manifest });
        } else {
          const files = filesDiffer(latest, source) ? await changedSince(ctx, image, latest[REVISION_LABEL]) : undefined;
          state.reason = reuseMiss(latest, source, image.sources, files);
        }
      }),
    );
    for (const image of ctx.images) {
      const state = ctx.state[image.service];
      if (state) ctx.ui.info(`${image.service}: ${state.action} (${state.reason})`);
    }
  },
};
