// Planning with a fake engine: `select` reads what runs and gives each service an action;
// `compare` keeps a service whose container already runs the target image, and closes the plan
// with each replaced service's strategy.
import { describe, expect, it } from 'vitest';
import { compare, select, selectServices } from '../../lib/deploy/steps/select.mts';
import { container, deployContext, engineRows, shopProduct, WEB_BEHIND_PROXY, type FakeContainer } from './deploy-world.mts';

const STATEFUL = { ...WEB_BEHIND_PROXY, db: { name: 'db', kind: 'stateful', repository: 'reg/db' } } as typeof WEB_BEHIND_PROXY;

describe('select', () => {
  it('starts what is not running, keeps the proxy, stateful and services left out of --only, and replaces the rest', () => {
    const running = {
      proxy: [container({ id: 'p1', service: 'proxy' })],
      web: [container({ id: 'w1', service: 'web' })],
      db: [container({ id: 'd1', service: 'db' })],
    };
    expect(selectServices(shopProduct(STATEFUL), { tag: 'v2' }, running)).toEqual({
      proxy: { action: 'keep', reason: 'proxy: kept running' },
      web: { action: 'replace', reason: 'selected for v2' },
      worker: { action: 'start', reason: 'not running' },
      db: { action: 'keep', reason: 'stateful: never replaced by a routine deploy (see --include-stateful)' },
    });
    expect(selectServices(shopProduct(STATEFUL), { tag: 'v2', only: ['db'], includeStateful: true }, running)).toMatchObject({
      web: { action: 'keep', reason: 'not in --only' },
      db: { action: 'replace', reason: 'selected for v2' },
    });
  });

  it('asks the engine for each service once, and the targets follow the plan', async () => {
    const containers: FakeContainer[] = [
      { id: 'p1', service: 'proxy' },
      { id: 'w1', service: 'web' },
      { id: 'k0', service: 'worker', running: false },
    ];
    const { ctx, runner } = deployContext(shopProduct(WEB_BEHIND_PROXY), engineRows(containers));
    await select.run(ctx);
    expect(ctx.before.web?.map((c) => c.id)).toEqual(['w1']);
    expect(ctx.before.worker).toEqual([]);
    expect(ctx.plan.worker).toEqual({ action: 'start', reason: 'not running' });
    expect(ctx.targets).toEqual(['web']);
    expect(runner.calls.filter((c) => c.startsWith('docker ps'))).toHaveLength(3);
    expect(runner.runs).toEqual([]);
  });
});

describe('compare', () => {
  const imageRow = (ids: Record<string, string | undefined>) =>
    [
      /^docker image inspect /,
      (argv: string[]) => {
        const id = ids[argv[3] ?? ''];
        return id ? { stdout: JSON.stringify([{ Id: id }]) } : { exitCode: 1, stderr: 'No such image' };
      },
    ] as const;

  it('keeps a service that already runs the target image, replaces the others, and gives each its strategy', async () => {
    const proxy = container({ id: 'p1', service: 'proxy' });
    const { ctx, runner, ui } = deployContext(
      shopProduct(WEB_BEHIND_PROXY),
      [[...imageRow({ 'reg/web:v2': 'sha256:web-new0000000000', 'reg/worker:v2': 'sha256:worker-same00000' })]],
      {},
      proxy,
    );
    ctx.before = {
      web: [container({ id: 'w1', service: 'web' })],
      worker: [container({ id: 'k1', service: 'worker', imageId: 'sha256:worker-same00000' })],
    };
    ctx.plan = {
      proxy: { action: 'keep', reason: 'proxy: kept running' },
      web: { action: 'replace', reason: 'web/ changed' },
      worker: { action: 'replace', reason: 'selected' },
    };
    await compare.run(ctx);
    expect(ctx.plan).toEqual({
      proxy: { action: 'keep', reason: 'proxy: kept running' },
      web: { action: 'replace', reason: 'web/ changed (web-old -> web-new00000)', strategy: 'start-first' },
      worker: { action: 'keep', reason: 'selected, but it already runs worker-same0' },
    });
    expect(ui.lines).toContain('  web: start-first (behind the proxy)');
    expect(runner.runs).toEqual([]);
  });

  it('replaces a forced service without looking at its image, and a service with no proxy running is stop-first', async () => {
    const { ctx, runner } = deployContext(shopProduct(WEB_BEHIND_PROXY), []);
    ctx.plan = { web: { action: 'replace', reason: 'compose config changed', force: true } };
    await compare.run(ctx);
    expect(ctx.plan.web).toEqual({ action: 'replace', reason: 'compose config changed', force: true, strategy: 'stop-first' });
    expect(runner.calls).toEqual([]);
  });

  it('under dry run says the image is not pulled yet', async () => {
    const { ctx } = deployContext(
      shopProduct(WEB_BEHIND_PROXY),
      [[...imageRow({})]],
      { dryRun: true },
      container({ id: 'p1', service: 'proxy' }),
    );
    ctx.plan = { web: { action: 'replace', reason: 'selected' } };
    await compare.run(ctx);
    expect(ctx.plan.web).toEqual({ action: 'replace', reason: 'selected (image not pulled yet: dry run)', strategy: 'start-first' });
  });
});
