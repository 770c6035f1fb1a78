// The registry, not the push's exit code, says the release is there: every image under the release
// tag, and (for a clean tree) :latest on the same digest.
import { ConfigError } from '../../core/errors.mts';
import type { Step } from '../../core/pipeline.mts';
import { createRegistryClient, type RegistryClient } from '../../registry/client.mts';
import { manifestDigest } from '../../registry/manifests.mts';
import { imageSize } from '../../registry/image-size.mts';
import { releaseOf, taggedRef, type BuildContext } from '../context.mts';

export const verify: Step<BuildContext> = {
  id: 'verify',
  title: 'verify the registry has the release',
  enabled: (ctx) => ctx.options.push,
  skip: (ctx) => (ctx.options.dryRun ? 'dry run' : false),
  async run(ctx) {
    const client = (ctx.registry ??= createRegistryClient(ctx.product.registry, ctx.credentials));
    const rel = releaseOf(ctx);
    const missing: string[] = [];
    await Promise.all(
      ctx.images.map(async (image) => {
        const state = ctx.state[image.service];
        if (!state) return;
        const digest = await manifestDigest(client, image.repository, rel.tag, ctx.credentials);
        if (!digest) missing.push(taggedRef(image, rel.tag));
        else state.digest = digest;
        if (
          state.action !== 'present' &&
          !rel.dirty &&
          (await manifestDigest(client, image.repository, 'latest', ctx.credentials)) !== digest
        ) {
          missing.push(`${image.repository}:latest (not the release)`);
        }
      }),
    );
    if (missing.length > 0)
      throw new ConfigError(`the registry does not hold ${missing.join(', ')} after the push`, {
        fix: 'check the registry (another build pushing at once?) and rerun',
      });
    await recordSizes(ctx, client);
  },
};

/** Each pushed image's compressed size, and a warning for one over its service's maxImageMb. The
 *  size only informs: a registry that will not say leaves it out. */
async function recordSizes(ctx: BuildContext, client: RegistryClient): Promise<void> {
  for (const image of ctx.images) {
    const state = ctx.state[image.service];
    if (!state?.digest) continue;
    state.sizeBytes = await imageSize(client, image.repository, state.digest, ctx.credentials).catch(() => undefined);
    const budget = ctx.product.services[image.service]?.maxImageMb;
    if (state.sizeBytes !== undefined && budget !== undefined && state.sizeBytes > budget * 1_000_000) {
      ctx.ui.warn(
        `${image.service}: image is ${(state.sizeBytes / 1_000_000).toFixed(1)} MB compressed, over its maxImageMb of ${budget} (slower pulls, more disk on the VM)`,
      );
    }
  }
}
