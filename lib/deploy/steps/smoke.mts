// Smoke checks through the proxy after the switch, then a monitor window: the release has to
// keep answering and its containers have to stay up. A failure undoes the switch (lib/deploy/undo.mts).
import { setTimeout as sleep } from 'node:timers/promises';
import type { SmokeCheck } from '../../config/types.mts';
import { found, servicesWith, type DeployContext } from '../context.mts';
import { inspectContainers } from '../../engine/engine.mts';
import { HealthError } from '../../core/errors.mts';
import type { Step } from '../../core/pipeline.mts';
import { getThroughProxy } from '../proxy.mts';
import { usesEdge } from '../topology.mts';

export function smokeFailure(check: SmokeCheck, tag: string, answer: { status: number; body: string }): string | undefined {
  const status = check.status ?? 200;
  if (answer.status !== status) return `${check.path}: expected HTTP ${status}, got ${answer.status || 'no answer'}`;
  const expected = check.contains?.replaceAll('{tag}', tag);
  if (expected && !answer.body.includes(expected))
    return `${check.path}: body does not contain '${expected}' (got '${answer.body.trim().slice(0, 80)}')`;
  return undefined;
}

export const smoke: Step<DeployContext> = {
  id: 'smoke',
  title: 'smoke checks',
  enabled: (ctx) => (ctx.product.def.smoke?.length ?? 0) > 0 && servicesWith(ctx, 'replace', 'start').length > 0,
  skip(ctx) {
    const checks = (ctx.product.def.smoke ?? []).map(
      (c) => `GET ${c.path} -> ${c.status ?? 200}${c.contains ? ` containing '${c.contains.replaceAll('{tag}', ctx.options.tag)}'` : ''}`,
    );
    if (ctx.options.dryRun) return `dry run: would check through the proxy ${checks.join(', ')}, then watch ${monitorSeconds(ctx)}s`;
    return false;
  },
  async run(ctx) {
    const { proxy } = found(ctx);
    if (!proxy) throw new HealthError('smoke checks need the proxy, which is not running', { fix: 'start the proxy service' });
    const checks = ctx.product.def.smoke ?? [];
    // An https edge answers plain HTTP with a redirect: ask it over TLS, as a browser would.
    const tls = usesEdge(ctx) && ctx.product.edge?.scheme === 'https';
    const runChecks = async () => {
      for (const check of checks) {
        const answer = await getThroughProxy(ctx.runner, proxy, check.path, check.host, tls ? 443 : 80, tls);
        const failure = smokeFailure(check, ctx.options.tag, answer);
        if (failure)
          throw new HealthError(`smoke check failed: ${failure}`, { fix: 'the release was rolled back; fix it and deploy again' });
      }
    };
    await runChecks();
    const fresh = Object.values(ctx.fresh).flat();
    const until = Date.now() + monitorSeconds(ctx) * 1000;
    while (Date.now() < until) {
      await sleep(Math.min(500, Math.max(0, until - Date.now())));
      for (const container of await inspectContainers(
        ctx.runner,
        fresh.map((c) => c.id),
      )) {
        if (!container.running || container.health === 'unhealthy' || container.restartCount > 0) {
          throw new HealthError(`${container.name} ${container.running ? container.health : 'stopped'} during the monitor window`, {
            fix: 'the release was rolled back; see its logs',
          });
        }
      }
      await runChecks();
    }
  },
};

export function monitorSeconds(ctx: Pick<DeployContext, 'product'>): number {
  return ctx.product.def.monitorSeconds ?? 3;
}
