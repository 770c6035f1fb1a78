import { ConfigError } from '../../core/errors.mts';
import type { Step } from '../../core/pipeline.mts';
import { checkEngine } from '../../engine/engine.mts';
import { detectBuilder } from '../builder.mts';
import { imagesWith, type BuildContext } from '../context.mts';

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
        throw new ConfigError(
          `${needy.map((i) => i.service).join(', ')} need${needy.length === 1 ? 's' : ''} BuildKit secrets, which the legacy builder cannot pass`,
          {
            fix: 'install the buildx plugin (Debian: docker-buildx; Docker: docker-buildx-plugin) on this builder',
          },
        );
      }
      if (ctx.options.cache === 'registry')
        ctx.ui.warn('the legacy builder cannot use a registry cache: building with the local cache only');
    }
  },
};
