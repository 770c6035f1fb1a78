// New containers are those not in the inventory `up` took before it started any: each must turn
// healthy (or answer its health path) before traffic moves.
import { servicesWith, type DeployContext } from '../context.mts';
import { listContainers } from '../../engine/engine.mts';
import { healthDeadlineMs, waitHealthy } from '../health.mts';
import type { Step } from '../../core/pipeline.mts';

export const healthCheck: Step<DeployContext> = {
  id: 'health',
  title: 'wait until healthy',
  skip(ctx) {
    const services = servicesWith(ctx, 'replace', 'start');
    if (services.length === 0) return 'no new containers';
    if (ctx.options.dryRun) {
      const how = services.map((s) => {
        const def = ctx.product.services[s];
        const probe = def?.health?.path ? `GET :${def.health.port}${def.health.path} on the new container` : "Docker's health status";
        return `${s} (${probe}, deadline ${Math.round(healthDeadlineMs({ healthcheck: undefined }, def ?? {}) / 1000)}s unless its healthcheck says otherwise)`;
      });
      return `dry run: would wait for ${how.join(', ')}`;
    }
    return false;
  },
  async run(ctx) {
    const existing = new Set(ctx.journal.started?.existingIds);
    // Services are independent: wait for all at once so the slowest sets the pace, not the sum.
    await Promise.all(
      servicesWith(ctx, 'replace', 'start').map(async (name) => {
        const service = ctx.product.services[name];
        if (!service) return;
        // Stopped ones count too: a container that crashed at start must fail the deploy.
        const fresh = (await listContainers(ctx.runner, ctx.product.projectName, name, true)).filter((c) => !existing.has(c.id));
        ctx.fresh[name] = fresh;
        ctx.fresh[name] = await Promise.all(fresh.map((container) => waitHealthy(ctx.runner, container, service)));
      }),
    );
  },
};
