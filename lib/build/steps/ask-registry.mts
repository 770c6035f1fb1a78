// Per image: is the release already there (present), or does :latest carry the same source key
// (reuse: tag it again, no build)? Whatever is neither stays "build".
import type { Step } from '../../core/pipeline.mts';
import { createRegistryClient } from '../../registry/client.mts';
import { getManifest, imageLabels, manifestDigest } from '../../registry/manifests.mts';
import { releaseOf, taggedRef, type BuildContext } from '../context.mts';
import { SOURCE_LABEL } from '../plan.mts';

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
        if (!state.key) return;
        const latest = await imageLabels(client, image.repository, 'latest', ctx.credentials);
        if (latest?.[SOURCE_LABEL] === state.key) {
          const manifest = await getManifest(client, image.repository, 'latest', ctx.credentials);
          if (manifest)
            Object.assign(state, { action: 'reuse', reason: 'same sources as :latest, tagged again without a build', reuse: manifest });
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
