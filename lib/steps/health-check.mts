import { servicesWith, type DeployContext } from '../context.mts';
import { listContainers } from '../engine.mts';
import { waitHealthy } from '../health.mts';
import type { Step } from '../pipeline.mts';

export const healthCheck: Step<DeployContext> = {
  id: 'health',
  title: 'wait until healthy',
  skip(ctx) {
    const services = servicesWith(ctx, 'replace', 'start');
    if (services.length === 0) return 'no new containers';
    if (ctx.options.dryRun) return `dry run: would wait for ${services.join(', ')} to be healthy`;
    return false;
  },
  async run(ctx) {
    // Services are independent: wait for all at once so the slowest sets the pace, not the sum.
    await Promise.all(
      servicesWith(ctx, 'replace', 'start').map(async (name) => {
        const service = ctx.product.services[name];
        if (!service) return;
        const old = new Set((ctx.before[name] ?? []).map((c) => c.id));
        // Stopped ones count too: a container that crashed at start must fail the deploy.
        const fresh = (await listContainers(ctx.runner, ctx.product.projectName, name, true)).filter((c) => !old.has(c.id));
        ctx.after[name] = await Promise.all(fresh.map((container) => waitHealthy(ctx.runner, container, service)));
      }),
    );
  },
};
