// The deploy's (and rollback's) first look at the running product: repair (lib/deploy/repair.mts)
// makes the ledger, the routes and the engine agree before anything new starts. A proxy that is
// restarting or gone comes back, routes name running containers, a killed deploy's orphans go,
// and a release that deploy switched to is checked (health and smoke) before this deploy can
// keep it and record it. What cannot be mended stops the deploy with one line that says why.
import type { DeployContext } from '../context.mts';
import type { Step } from '../../core/pipeline.mts';
import { applyRepair, productDrift } from '../repair.mts';
import { switchedServices } from '../topology.mts';

export const repair: Step<DeployContext> = {
  id: 'repair',
  title: 'repair proxy, routes and leftovers',
  enabled: (ctx) => switchedServices(ctx).length > 0,
  async run(ctx) {
    const drift = await productDrift(ctx);
    for (const finding of drift.findings) {
      // A product berth never deployed here has no ledger yet: worth saying, not a warning.
      if (finding.kind === 'ledger-missing') ctx.ui.info(finding.line);
      else ctx.ui.warn(finding.line);
    }
    const outcome = await applyRepair(ctx, drift, { record: false });
    for (const line of outcome.did) ctx.ui.info(line);
  },
};
