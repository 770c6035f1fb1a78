// Step order, skip reasons, and the failure hook, with no process spawned at all.
import { describe, expect, it } from 'vitest';
import { HealthError } from '../../lib/core/errors.mts';
import { InterruptedError, setInterrupted } from '../../lib/core/interrupt.mts';
import { runSteps, type PipelineContext, type Step } from '../../lib/core/pipeline.mts';
import { silentUi } from '../../lib/core/ui.mts';

type Ctx = PipelineContext & { ran: string[]; dryRun: boolean };

const step = (id: string, extra: Partial<Step<Ctx>> = {}): Step<Ctx> => ({
  id,
  title: id,
  run: async (ctx) => {
    ctx.ran.push(id);
  },
  ...extra,
});

describe('runSteps', () => {
  it('runs enabled steps in order, lists skipped ones with their reason, times each', async () => {
    const ctx: Ctx = { ui: silentUi(), timings: {}, ran: [], dryRun: true };
    const skips: string[] = [];
    ctx.ui = {
      ...silentUi(),
      step: (title) => ({ update() {}, succeed() {}, fail() {}, skip: (reason) => skips.push(`${title}: ${reason}`) }),
    };
    await runSteps(ctx, [
      step('preflight'),
      step('hidden', { enabled: () => false }),
      step('pull', { skip: (c) => c.dryRun && 'dry run: would run docker pull r/web:1' }),
      step('record'),
    ]);
    expect(ctx.ran).toEqual(['preflight', 'record']);
    expect(skips).toEqual(['pull: dry run: would run docker pull r/web:1']);
    expect(Object.keys(ctx.timings)).toEqual(['preflight', 'record']);
  });

  it('stops at the first failure and runs the failure hook exactly once, with the step id', async () => {
    const ctx: Ctx = { ui: silentUi(), timings: {}, ran: [], dryRun: false };
    const undone: string[] = [];
    const failing = step('health', {
      run: async () => {
        throw new HealthError('web is unhealthy');
      },
    });
    await expect(
      runSteps(ctx, [step('up'), failing, step('switch')], {
        onFailure: async (_c, error, id) => {
          undone.push(`${id}: ${(error as Error).message}`);
        },
      }),
    ).rejects.toThrow('web is unhealthy');
    expect(ctx.ran).toEqual(['up']);
    expect(undone).toEqual(['health: web is unhealthy']);
  });

  it('a signal stops the run before the next step and runs the same undo, once', async () => {
    const ctx: Ctx = { ui: silentUi(), timings: {}, ran: [], dryRun: false };
    const undone: unknown[] = [];
    const signalled = step('up', {
      run: async (c) => {
        c.ran.push('up');
        setInterrupted('SIGINT');
      },
    });
    try {
      await expect(
        runSteps(ctx, [signalled, step('switch'), step('record')], { onFailure: async (_c, error) => void undone.push(error) }),
      ).rejects.toThrow('interrupted by SIGINT');
    } finally {
      setInterrupted(undefined);
    }
    expect(ctx.ran).toEqual(['up']);
    expect(undone).toHaveLength(1);
    expect(undone[0]).toBeInstanceOf(InterruptedError);
    expect((undone[0] as InterruptedError).exitCode).toBe(130);
  });
});
