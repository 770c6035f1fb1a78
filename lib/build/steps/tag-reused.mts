// Images whose sources match :latest get the release tag by a manifest PUT: no build, no pull.
import type { Step } from '../../core/pipeline.mts';
import { putManifest } from '../../registry/manifests.mts';
import { imagesWith, releaseOf, type BuildContext } from '../context.mts';

export const tagReused: Step<BuildContext> = {
  id: 'tag',
  title: 'tag unchanged images with the release',
  enabled: (ctx) => imagesWith(ctx, 'reuse').length > 0,
  skip(ctx) {
    if (!ctx.options.dryRun) return false;
    return `dry run: would tag ${imagesWith(ctx, 'reuse')
      .map((image) => `${image.repository}@${ctx.state[image.service]?.reuse?.digest} as :${releaseOf(ctx).tag}`)
      .join(', ')}`;
  },
  async run(ctx) {
    const client = ctx.registry;
    if (!client) throw new Error('the registry step did not run');
    await Promise.all(
      imagesWith(ctx, 'reuse').map(async (image) => {
        const state = ctx.state[image.service];
        if (!state?.reuse) return;
        state.digest = await putManifest(client, image.repository, releaseOf(ctx).tag, state.reuse, ctx.credentials);
      }),
    );
  },
};
