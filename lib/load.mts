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
  /** Requests that got no good answer, even after the one retry below. */
  failed: number;
  /** GETs retried once because the proxy closed an idle keep-alive connection as the request
   *  went out (a graceful reload does that). Browsers and curl retry those the same way
   *  (RFC 9112 9.3.1), so they are reported, not counted as failed. */
  retried: number;
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
  const report: LoadReport = { requests: 0, ok: 0, failed: 0, retried: 0, longestGapMs: 0, p99Ms: 0, bodies: {}, firstSeen: {}, errors: [] };
  const latencies: number[] = [];
  let lastOk = started;
  let stopped = false;

  const once = async (): Promise<{ status: number; body: string }> => {
    const response = await fetch(url, { signal: AbortSignal.timeout(options.requestTimeoutMs ?? 10_000) });
    return { status: response.status, body: (await response.text()).trim() };
  };
  const closedBeforeAnswer = (error: unknown) => ['UND_ERR_SOCKET', 'ECONNRESET'].includes((error as { cause?: { code?: string } }).cause?.code ?? '');

  const worker = async () => {
    while (!stopped && report.requests < maxRequests && performance.now() - started < maxMs) {
      report.requests++;
      const t0 = performance.now();
      try {
        let answer: { status: number; body: string };
        try {
          answer = await once();
        } catch (error) {
          if (!closedBeforeAnswer(error)) throw error;
          report.retried++;
          answer = await once();
        }
        const now = performance.now();
        latencies.push(now - t0);
        if (answer.status < 200 || answer.status >= 300) throw new Error(`HTTP ${answer.status}`);
        report.ok++;
        report.longestGapMs = Math.max(report.longestGapMs, now - lastOk);
        lastOk = now;
        report.bodies[answer.body] = (report.bodies[answer.body] ?? 0) + 1;
        report.firstSeen[answer.body] ??= Math.round(now - started);
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
