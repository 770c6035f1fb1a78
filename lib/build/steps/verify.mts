// The registry, not the push's exit code, says the release is there: every image under the release
// tag, and (for a clean tree) :latest on the same digest.
import { ConfigError } from '../../core/errors.mts';
import type { Step } from '../../core/pipeline.mts';
import { createRegistryClient } from '../../registry/client.mts';
import { manifestDigest } from '../../registry/manifests.mts';
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
  },
};
