import { describe, expect, it } from 'vitest';
import { engineOf, productSettings } from '../../lib/config/engine-choice.mts';
import { validateProduct } from '../../lib/config/validate.mts';
import type { Product, Settings } from '../../lib/config/load.mts';
import { createDeployContext, deployPhases } from '../../lib/deploy/deploy-product.mts';
import { createRunner } from '../../lib/core/runner.mts';
import { recordingUi, shopProduct, WEB_BEHIND_PROXY } from './deploy-world.mts';

const pinned = (engine?: 'compose' | 'swarm'): Product => {
  const product = shopProduct(WEB_BEHIND_PROXY);
  return { ...product, def: { ...product.def, ...(engine ? { engine } : {}) } };
};
const vm = (engine: 'compose' | 'swarm') => ({ engine, env: {} }) as unknown as Settings;

describe('the engine a product runs on', () => {
  it("is the VM's BERTH_ENGINE unless the product names one", () => {
    expect(engineOf(pinned(), vm('compose'))).toBe('compose');
    expect(engineOf(pinned(), vm('swarm'))).toBe('swarm');
    expect(engineOf(pinned('swarm'), vm('compose'))).toBe('swarm');
    expect(engineOf(pinned('compose'), vm('swarm'))).toBe('compose');
    // A catalogue entry whose product could not be loaded still gets the VM's engine.
    expect(engineOf(undefined, vm('swarm'))).toBe('swarm');
  });

  it("gives a product's commands the VM's settings with its engine, without changing the VM's", () => {
    const settings = vm('compose');
    const mine = productSettings(pinned('swarm'), settings);
    expect(mine.engine).toBe('swarm');
    expect(mine.env).toBe(settings.env);
    expect(settings.engine).toBe('compose');
    expect(productSettings(pinned(), settings)).toBe(settings);
  });

  it('picks the swarm steps for a deploy of a product pinned to a swarm on a Compose VM', () => {
    const ctx = createDeployContext(pinned('swarm'), vm('compose'), createRunner({ dryRun: true }), recordingUi(), { tag: 'v2' });
    expect(ctx.settings.engine).toBe('swarm');
    const ids = (phases: ReturnType<typeof deployPhases>) =>
      Object.values(phases).flatMap((steps) => steps.map((s: { id: string }) => s.id));
    expect(ids(deployPhases(ctx.settings.engine))).toEqual(ids(deployPhases('swarm')));
    expect(ids(deployPhases('swarm'))).not.toEqual(ids(deployPhases('compose')));
  });

  it('is validated with the rest of the product file', () => {
    const def = { ...pinned().def, services: { web: { kind: 'http', health: { path: '/healthz', port: 8080 } } }, engine: 'nomad' };
    expect(validateProduct(def).errors).toEqual(["engine: expected 'compose' or 'swarm'"]);
  });
});
