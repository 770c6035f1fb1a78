// The deploy as a whole: the step order, the phases as concatenated arrays, the lock held from
// after preflight to the end, one outcome for ok and failed, and undo run exactly once.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Step } from '../../lib/core/pipeline.mts';
import type { DeployContext } from '../../lib/deploy/context.mts';
import {
  deployPhases,
  deployProduct,
  deploySteps,
  planSteps,
  pullSteps,
  switchSteps,
  recordSteps,
  preflightSteps,
  type DeployPhases,
} from '../../lib/deploy/deploy-product.mts';
import { HealthError } from '../../lib/core/errors.mts';
import { readLedger } from '../../lib/releases/ledger.mts';
import { deployContext, shopProduct } from './deploy-world.mts';

describe('the deploy steps', () => {
  it('run in this order', () => {
    expect(deploySteps.map((s) => s.id)).toEqual([
      'checkout',
      'preflight',
      'checks',
      'repair',
      'select',
      'changes',
      'pull',
      'compare',
      'migrate',
      'up',
      'health',
      'beforeSwitch',
      'switch',
      'smoke',
      'retire',
      'afterDeploy',
      'afterRollback',
      'record',
    ]);
  });

  it('are the phase arrays concatenated, and deploy-all phases are those arrays', () => {
    expect(deploySteps).toEqual([...preflightSteps, ...planSteps, ...pullSteps, ...switchSteps, ...recordSteps]);
    const phases = deployPhases();
    expect(phases.plan).toBe(planSteps);
    expect(phases.pull).toBe(pullSteps);
    expect(phases.switch).toEqual([...switchSteps, ...recordSteps]);
    expect(phases.record).toBe(recordSteps);
  });
});

describe('deployProduct', () => {
  /** Phases of stub steps that record the order they ran in and whether the lock was held. */
  function stubPhases(stateDir: string, fail?: string): { phases: DeployPhases; ran: string[] } {
    const ran: string[] = [];
    const step = (id: string, run?: (ctx: DeployContext) => void): Step<DeployContext> => ({
      id,
      title: id,
      async run(ctx) {
        ran.push(`${id}${existsSync(join(stateDir, 'lock')) ? ' (locked)' : ''}`);
        run?.(ctx);
        if (id === fail) throw new HealthError(`${id} broke`);
      },
    });
    const preflight = step('preflight', (ctx) => {
      ctx.found = {
        flavour: { name: 'v1', bin: ['docker-compose'], version: '1' },
        project: { flavour: { name: 'v1', bin: ['docker-compose'], version: '1' }, name: 'shop', directory: '/', files: [] },
        compose: { services: {}, top: {} },
      };
    });
    return {
      ran,
      phases: {
        preflight: [preflight],
        plan: [step('plan')],
        pull: [step('pull')],
        switch: [step('switch'), step('record')],
        record: [step('record')],
      },
    };
  }

  it('takes the lock first (the checkout moves files), runs every phase in order, releases it, and returns the outcome', async () => {
    const product = shopProduct({});
    const { ctx } = deployContext(product, []);
    ctx.found = undefined;
    const { phases, ran } = stubPhases(product.stateDir);
    const run = await deployProduct(ctx, phases);
    expect(ran).toEqual(['preflight (locked)', 'plan (locked)', 'pull (locked)', 'switch (locked)', 'record (locked)']);
    expect(existsSync(join(product.stateDir, 'lock'))).toBe(false);
    expect(run.error).toBeUndefined();
    expect(run.outcome).toMatchObject({ product: 'shop', tag: 'v2', result: 'ok', changed: [], plan: {} });
    expect(Object.keys(run.outcome.durationsMs)).toEqual(['preflight', 'plan', 'pull', 'switch', 'record', 'total']);
  });

  it('on a failure undoes exactly once, releases the lock, and returns a failed outcome with the error', async () => {
    const product = shopProduct({});
    const { ctx, ui } = deployContext(product, []);
    ctx.found = undefined;
    const { phases, ran } = stubPhases(product.stateDir, 'switch');
    const run = await deployProduct(ctx, phases);
    expect(ran).toEqual(['preflight (locked)', 'plan (locked)', 'pull (locked)', 'switch (locked)']);
    expect(run.error).toBeInstanceOf(HealthError);
    expect(run.outcome).toMatchObject({ result: 'failed', failedStep: 'switch', error: 'switch broke' });
    expect(existsSync(join(product.stateDir, 'lock'))).toBe(false);
    // Undo's mark: one failed record in the ledger, nothing restored.
    expect(readLedger(product.stateDir).map((r) => [r.result, r.error])).toEqual([['failed', 'switch: switch broke']]);
    expect(ui.lines.filter((l) => l.startsWith('  FAILED'))).toEqual(['  FAILED: switch broke']);
  });

  it('a refused preflight releases the lock and records nothing', async () => {
    const product = shopProduct({});
    const { ctx } = deployContext(product, []);
    ctx.found = undefined;
    const { phases, ran } = stubPhases(product.stateDir, 'preflight');
    phases.preflight = [
      {
        id: 'preflight',
        title: 'preflight',
        run: async () => {
          ran.push('preflight');
          throw new HealthError('no engine');
        },
      },
    ];
    const run = await deployProduct(ctx, phases);
    expect(ran).toEqual(['preflight']);
    expect(run.outcome).toMatchObject({ result: 'failed', failedStep: 'preflight' });
    expect(existsSync(join(product.stateDir, 'lock'))).toBe(false);
    expect(readLedger(product.stateDir)).toEqual([]);
  });

  it('a dry run takes no lock and its outcome says dry-run', async () => {
    const product = shopProduct({});
    const { ctx, ui } = deployContext(product, [], { dryRun: true });
    ctx.found = undefined;
    const { phases, ran } = stubPhases(product.stateDir);
    const run = await deployProduct(ctx, phases);
    expect(ran).toEqual(['preflight', 'plan', 'pull', 'switch', 'record']);
    expect(run.outcome.result).toBe('dry-run');
    expect(ui.lines).toContain(`  dry run: would take the lock in ${product.stateDir}`);
  });

  it('refuses bad options by throwing, before any step', async () => {
    const { ctx } = deployContext(shopProduct({}), [], { only: ['nope'] });
    await expect(deployProduct(ctx, stubPhases('/nonexistent').phases)).rejects.toThrow(/unknown service nope in --only/);
  });
});
