// A bounded load loop against one URL on this machine: the demo, the switch tests and the
// benchmarks all measure "did any request fail, how long was the longest gap" with it.
export interface LoadOptions {
  concurrency?: number;
  /** Hard bounds: the loop stops at whichever comes first, even if nobody calls stop(). */
  maxRequests?: number;
  maxMs?: number;
  requestTimeoutMs?: number;
}

export interface LoadReport {
  requests: number;
  ok: number;
  failed: number;
  /** Longest time between two successful responses, in ms. */
  longestGapMs: number;
  p99Ms: number;
  /** Response body -> count (the version served). */
  bodies: Record<string, number>;
  /** [time since start ms, body] of the first response with each body. */
  firstSeen: Record<string, number>;
  errors: string[];
}

export interface LoadLoop {
  stop(): Promise<LoadReport>;
}

export function startLoad(url: string, options: LoadOptions = {}): LoadLoop {
  const host = new URL(url).hostname;
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(host)) throw new Error(`load loops only target this machine, not ${host}`);
  const concurrency = options.concurrency ?? 2;
  const maxRequests = options.maxRequests ?? 50_000;
  const maxMs = options.maxMs ?? 120_000;
  const started = performance.now();
  const report: LoadReport = { requests: 0, ok: 0, failed: 0, longestGapMs: 0, p99Ms: 0, bodies: {}, firstSeen: {}, errors: [] };
  const latencies: number[] = [];
  let lastOk = started;
  let stopped = false;

  const worker = async () => {
    while (!stopped && report.requests < maxRequests && performance.now() - started < maxMs) {
      report.requests++;
      const t0 = performance.now();
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(options.requestTimeoutMs ?? 10_000) });
        const body = (await response.text()).trim();
        const now = performance.now();
        latencies.push(now - t0);
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        report.ok++;
        report.longestGapMs = Math.max(report.longestGapMs, now - lastOk);
        lastOk = now;
        report.bodies[body] = (report.bodies[body] ?? 0) + 1;
        report.firstSeen[body] ??= Math.round(now - started);
      } catch (error) {
        report.failed++;
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        const text = `${error instanceof Error ? error.message : String(error)}${cause ? ` (${cause.code ?? cause.message})` : ''}`;
        if (report.errors.length < 5) report.errors.push(`${Math.round(performance.now() - started)} ms: ${text}`);
      }
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  return {
    async stop() {
      stopped = true;
      await Promise.all(workers);
      latencies.sort((a, b) => a - b);
      report.p99Ms = Math.round(latencies[Math.floor(latencies.length * 0.99)] ?? 0);
      report.longestGapMs = Math.round(report.longestGapMs);
      return report;
    },
  };
}
