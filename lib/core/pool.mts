// The one bounded pool: deploy-all's plans, pulls and switch groups, and the fallback builds.

/**
 * Runs `work` over `items`, at most `limit` at once; results keep the input order. After a
 * failure nothing new starts, and once the running ones end the first error is thrown: a pool
 * never leaves work running behind its caller's back.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (next < items.length && !failure) {
      const index = next++;
      try {
        results[index] = await work(items[index] as T, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure) throw failure.error;
  return results;
}
