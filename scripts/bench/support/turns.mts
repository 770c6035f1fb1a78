// What the switch benches share: each technique switches v1 <-> v2 under a load loop of its own,
// the techniques take turns round by round, and each technique's runs are summed the same way.
import { setTimeout as sleep } from 'node:timers/promises';
import { handover, startLoad, type LoadReport } from '../../../lib/dev/load-loop.mts';

/** Load before each switch starts, and after it ends (every technique alike). */
export const LEAD_MS = 300;
export const SETTLE_MS = 800;

export const median = (xs: number[]) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};
export const round = (x: number) => (Number.isFinite(x) ? String(Math.round(x)) : 'n/a');
/** The version a technique switches to on its i-th run (it starts on v1). */
export const versionAt = (i: number) => (i % 2 === 0 ? 'v2' : 'v1');

/** One switch (or one floor measurement) under its own load loop. */
export interface Run {
  report: LoadReport;
  wallMs: number;
  /** From the switch's start to the first answer of the new version. */
  firstNewMs: number;
  /** From the switch's start to the last old answer: traffic is all new after it. */
  switchedMs: number;
  /** How long both versions answered after the switch started. */
  mixedMs: number;
}

export interface Technique {
  name: string;
  url: string;
  /** Performs one switch to `to` (or one floor measurement) and returns its wall time. */
  run(to: string): Promise<number>;
  runs: Run[];
}

/** Starts the load, lets it settle, times `work`, keeps the load on for SETTLE_MS after it. */
export async function underLoad(url: string, from: string, to: string, work: () => Promise<number>, ratePerSecond?: number): Promise<Run> {
  const answers: { at: number; body: string }[] = [];
  const load = startLoad(url, {
    concurrency: 2,
    ...(ratePerSecond ? { ratePerSecond } : {}),
    maxMs: 120_000,
    maxRequests: 200_000,
    onAnswer: (at, body) => answers.push({ at, body }),
  });
  let report: LoadReport;
  let wallMs = Number.NaN;
  let start = Number.NaN;
  try {
    await sleep(LEAD_MS);
    start = performance.now();
    wallMs = await work();
    await sleep(SETTLE_MS);
  } finally {
    report = await load.stop();
  }
  const moved = handover(answers, start, from, to);
  return { report, wallMs, firstNewMs: moved.firstNewMs, switchedMs: moved.lastOldMs, mixedMs: moved.mixedMs };
}

/** `rounds` rounds; a different technique goes first each round, so none always follows the same neighbour. */
export async function takeTurns(techniques: Technique[], rounds: number, ratePerSecond?: number): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    const order = techniques.map((_, i) => techniques[(i + round) % techniques.length] as Technique);
    for (const technique of order) {
      const to = versionAt(technique.runs.length);
      const from = versionAt(technique.runs.length + 1);
      technique.runs.push(await underLoad(technique.url, from, to, () => technique.run(to), ratePerSecond));
    }
  }
}

/** A technique's load summed over its runs; the longest gap and p99 are the worst run's. */
export function loadTotals(technique: Technique) {
  const reports = technique.runs.map((r) => r.report);
  const sum = (pick: (r: LoadReport) => number) => reports.reduce((total, r) => total + pick(r), 0);
  return {
    requests: sum((r) => r.requests),
    failed: sum((r) => r.failed),
    resets: sum((r) => r.newConnectionResets),
    retried: sum((r) => r.retried),
    gapMs: Math.max(...reports.map((r) => r.longestGapMs)),
    p99Ms: Math.max(...reports.map((r) => r.p99Ms)),
    wallMs: median(technique.runs.map((r) => r.wallMs)),
    firstNewMs: median(technique.runs.map((r) => r.firstNewMs)),
    errors: reports.flatMap((r) => r.errors),
  };
}
