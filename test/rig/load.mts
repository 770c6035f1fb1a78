// Work done under the bounded load loop: the loop always stops, also when the work throws, so a
// failed test leaves no requests running into the next one.
import { startLoad, type LoadOptions, type LoadReport } from '../../lib/dev/load-loop.mts';

export async function underLoad<T>(
  url: string,
  work: () => Promise<T>,
  options: LoadOptions = {},
): Promise<{ value: T; report: LoadReport }> {
  const load = startLoad(url, { concurrency: 2, maxMs: 900_000, maxRequests: 2_000_000, ...options });
  try {
    const value = await work();
    return { value, report: await load.stop() };
  } catch (error) {
    await load.stop();
    throw error;
  }
}
