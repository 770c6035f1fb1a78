import type { Step } from '../../core/pipeline.mts';
import { loginRegistry } from '../../registry/client.mts';
import type { BuildContext } from '../context.mts';

export const login: Step<BuildContext> = {
  id: 'login',
  title: (ctx) => `log in to ${ctx.product.registry}`,
  enabled: (ctx) => ctx.options.push,
  skip: (ctx) =>
    ctx.credentials ? false : 'no BERTH_REGISTRY_USER/BERTH_REGISTRY_TOKEN: an open registry, or docker is logged in already',
  async run(ctx) {
    if (ctx.credentials) await loginRegistry(ctx.runner, ctx.product.registry, ctx.credentials);
  },
};
