import { describe, expect, it } from 'vitest';
import { CommandError, EngineError } from '../../lib/core/errors.mts';
import { engineGoneError, engineVerdict } from '../../lib/deploy/engine-gone.mts';
import { container, deployContext, engineRows, shopProduct, WEB_BEHIND_PROXY, type FakeContainer } from './deploy-world.mts';

const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-01T00:05:00.000Z';

function world(now: FakeContainer[]) {
  const { ctx, runner } = deployContext(shopProduct(WEB_BEHIND_PROXY), engineRows(now));
  // What select saw before the deploy: web and proxy running since T0.
  ctx.before = {
    web: [{ ...container({ id: 'w1', service: 'web' }), startedAt: T0 }],
    proxy: [{ ...container({ id: 'p1', service: 'proxy' }), startedAt: T0 }],
  };
  return { ctx, runner };
}

describe('engineVerdict', () => {
  it('sees an engine restart in a container from before that started again, whatever the step said', async () => {
    const { ctx } = world([
      { id: 'w1', service: 'web', started: T0 },
      { id: 'p1', service: 'proxy', started: T1 },
      { id: 'w2', service: 'web', running: false, started: T1 },
    ]);
    const health = new Error('web (shop-web-2) exited (exited): see the health log');
    expect(await engineVerdict(ctx, health, 'health')).toBe('shop_proxy_p1 was restarted under the deploy');
    // Decided once: the error line reuses it without asking the engine again.
    expect(await engineVerdict(ctx, health, 'health')).toBe('shop_proxy_p1 was restarted under the deploy');
  });

  it('is undefined when everything from before still runs as it did: an ordinary failure', async () => {
    const { ctx } = world([
      { id: 'w1', service: 'web', started: T0 },
      { id: 'p1', service: 'proxy', started: T0 },
    ]);
    expect(await engineVerdict(ctx, new Error('smoke check failed'), 'smoke')).toBeUndefined();
  });

  it("keeps the CLI's words when a command lost the daemon, and leaves berth's own engine errors alone", async () => {
    const { ctx } = world([
      { id: 'w1', service: 'web', started: T1 },
      { id: 'p1', service: 'proxy', started: T1 },
    ]);
    expect(await engineVerdict(ctx, new CommandError('docker inspect w2', 1, 'unexpected EOF\n'), 'health')).toBe('unexpected EOF');
    const other = world([]);
    expect(await engineVerdict(other.ctx, new EngineError('pulling x failed: the disk is full'), 'pull')).toBeUndefined();
    expect(other.runner.calls).toEqual([]);
  });

  it('says it in one line: what went away, during which step, what runs, and the fix', () => {
    const error = engineGoneError({ product: shopProduct(WEB_BEHIND_PROXY) }, 'unexpected EOF', 'up');
    expect(error.exitCode).toBe(3);
    expect(error.line).toBe(
      'the Docker engine went away during the up step, restarted or stopped (unexpected EOF); the deploy was undone: check that it runs again (docker info; systemctl status docker), then deploy again',
    );
  });
});
