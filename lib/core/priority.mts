// The CPU priority deploys run at (BERTH_NICE). A deploy shares a small VM's cores with the
// traffic it switches; measured on 2 cores, a deploy at normal priority left 130-150 ms without
// an answer in other products' traffic, most of it while node loaded berth's modules. So the
// entries that deploy import this module alone, lower the priority, and only then load the rest.
import { getPriority, setPriority } from 'node:os';

/** Lowers this process's priority (and so that of every command it starts); never raises it. */
export function lowerPriority(nice: number): void {
  if (nice <= 0) return;
  try {
    if (getPriority(0) < nice) setPriority(0, nice);
  } catch {
    // No priorities here (or not allowed): run as is.
  }
}

/** BERTH_NICE from the environment, before settings load; a bad value is left for them to report. */
export function lowerPriorityEarly(env: NodeJS.ProcessEnv = process.env): void {
  const raw = env.BERTH_NICE;
  if (raw === undefined || raw === '') lowerPriority(10);
  else if (/^\d{1,2}$/.test(raw) && Number(raw) <= 19) lowerPriority(Number(raw));
}
