import { describe, expect, it } from 'vitest';
import { mapLimit } from '../../lib/core/pool.mts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('mapLimit', () => {
  it('never runs more than the limit at once and keeps the order of results', async () => {
    let running = 0;
    let peak = 0;
    const results = await mapLimit([7, 1, 5, 2, 3, 6, 4], 3, async (ms, i) => {
      running++;
      peak = Math.max(peak, running);
      await sleep(ms);
      running--;
      return `${i}:${ms}`;
    });
    expect(peak).toBe(3);
    expect(results).toEqual(['0:7', '1:1', '2:5', '3:2', '4:3', '5:6', '6:4']);
  });

  it('starts nothing new after a failure, lets the running work end, and throws the first error', async () => {
    const started: number[] = [];
    const ended: number[] = [];
    const run = mapLimit([1, 2, 3, 4, 5], 2, async (n) => {
      started.push(n);
      await sleep(n === 1 ? 1 : 20);
      ended.push(n);
      if (n === 1) throw new Error('work 1 failed');
    });
    await expect(run).rejects.toThrow('work 1 failed');
    expect(started).toEqual([1, 2]);
    expect(ended).toEqual([1, 2]);
  });

  it('handles no items and a limit above their count', async () => {
    expect(await mapLimit([], 4, async () => 1)).toEqual([]);
    expect(await mapLimit(['a'], 8, async (x) => x.toUpperCase())).toEqual(['A']);
  });
});
