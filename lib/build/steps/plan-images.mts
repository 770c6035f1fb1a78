// One ImageBuild per service with a build section, each starting as "build" with its source key;
// everything that would make the build pointless (unknown --only, a production view that builds,
// a missing secret) stops here, before the registry or a builder is touched.
import { ConfigError, UsageError } from '../../core/errors.mts';
import type { Step } from '../../core/pipeline.mts';
import { detectCompose } from '../../engine/compose.mts';
import { registryCredentials } from '../../registry/client.mts';
import { releaseOf, type BuildContext } from '../context.mts';
import { loadBuildView, missingSecrets, planImages, productionViewErrors, releaseFedArgs, sourceParts } from '../plan.mts';

export const plan: Step<BuildContext> = {
  id: 'plan',
  title: 'plan images',
  async run(ctx) {
    const { product, options } = ctx;
    const unknown = (options.only ?? []).filter((s) => !(s in product.services));
    if (unknown.length > 0) {
      throw new UsageError(`unknown service${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} in --only for ${product.name}`, {
        fix: `use ${Object.keys(product.services).join(', ')}`,
      });
    }
    const production = productionViewErrors(product);
    if (production.length > 0) {
      throw new ConfigError(`${product.name}'s production view builds: ${production.join('; ')}`, { details: production });
    }
    const rel = releaseOf(ctx);
    if (product.def.buildComposeFiles?.length) ctx.flavour = await detectCompose(ctx.runner);
    // The development view may read these too, though an arg fed from them defeats reuse (below).
    const env = { IMAGE_TAG: rel.tag, REGISTRY: product.registry, BERTH_SHA: rel.tag, BUILD_TIME: rel.time };
    const view = ctx.flavour ? await loadBuildView(ctx.runner, ctx.flavour, product, env) : undefined;
    ctx.images = planImages(product, view, { only: options.only, buildArgs: options.buildArgs });
    if (ctx.images.length === 0) {
      throw new ConfigError(
        `no service of ${product.name}${options.only ? ` in --only ${options.only.join(',')}` : ''} has a build section`,
        {
          fix: `give services a build: { context } in ${product.file}, or build: sections in its buildComposeFiles`,
        },
      );
    }
    if (options.push) ctx.credentials = registryCredentials(ctx.settings.env);
    const missing = missingSecrets(ctx.images, ctx.settings.env);
    if (missing.length > 0)
      throw new ConfigError(`${missing.join('; ')}`, { fix: 'export the variable (CI: from the secret store) and rerun' });
    for (const warning of releaseFedArgs(ctx.images, rel)) ctx.ui.warn(warning);
    for (const image of ctx.images) {
      const source = rel.dirty ? undefined : await sourceParts(ctx.runner, product.repoDir, image);
      const reason = !options.push
        ? 'local build'
        : options.rebuild
          ? 'rebuild asked for (--rebuild)'
          : rel.dirty
            ? 'uncommitted changes are always built'
            : source
              ? 'not in the registry'
              : `${image.sources.join(', ')} not all committed in git: always built`;
      ctx.state[image.service] = { action: 'build', reason, ...(source ? { source } : {}) };
      ctx.ui.debug(`${image.service}: ${image.context} (${image.sources.join(', ')}), source key ${source?.key ?? 'none'}`);
    }
  },
};
