// Change detection: after `select` said which services are in play, keep running untouched every
// one whose image paths and resolved compose config did not change since the commit it was deployed
// from, and whose running image is the one the registry holds for the target tag.
// plan/change-facts.mts gathers the facts; plan/change-rules.mts decides.
import type { DeployContext } from '../context.mts';
import type { Step } from '../../core/pipeline.mts';
import { detectChanges } from '../plan/change-facts.mts';
import { askV1HashInputs } from './up.mts';

export const changes: Step<DeployContext> = {
  id: 'changes',
  title: 'detect changes',
  enabled: (ctx) => ctx.targets.length > 0,
  async run(ctx) {
    const decisions = await detectChanges(ctx, ctx.targets);
    const plan = { ...ctx.plan };
    for (const [name, decision] of Object.entries(decisions)) {
      plan[name] = decision.changed
        ? { action: 'replace', reason: decision.reason, ...(decision.force ? { force: true } : {}) }
        : { action: 'keep', reason: decision.reason };
    }
    ctx.plan = plan;
    for (const [name, plan] of Object.entries(ctx.plan)) ctx.ui.info(`${name}: ${plan.action} (${plan.reason})`);
    // Compose v1's config dumps of what is replaced, beside the pull (up.mts).
    askV1HashInputs(ctx);
  },
};
