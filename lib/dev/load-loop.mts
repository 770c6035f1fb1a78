// A bounded load loop against one URL on this machine: the demo, the switch tests and the
// benchmarks all measure "did any request fail, how long was the longest gap" with it.
import { Agent, get } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from '../core/errors.mts';

export interface LoadOptions {
  concurrency?: number;
  /** Hard bounds: the loop stops at whichever comes first, even if nobody calls stop(). */
  maxRequests?: number;
  maxMs?: number;
  requestTimeoutMs?: number;
  /** Paces the loop to about this many requests a second in all; default as fast as answers come.
   *  A saturating loop on a 2-core box measures CPU starvation as much as the switch. */
  ratePerSecond?: number;
  /** false: a client that never retries, as many scripts and SDKs are: a request the proxy closed
   *  before answering counts as failed. Default true (browsers and curl retry it, RFC 9112 9.3.1). */
  retry?: boolean;
  /** Host header, for a proxy that routes by host (the shared edge). */
  host?: string;
  /** Called with every good answer (performance.now() when it arrived, the body). */
  onAnswer?: (at: number, body: string) => void;
}

export interface LoadReport {
  requests: number;
  ok: number;
  /** Requests that got no good answer, even after the one retry below. */
  failed: number;
  /** GETs retried once, on a fresh connection, because the proxy closed an idle keep-alive
   *  connection as the request went out on it (a graceful reload does that): reset on a reused
   *  socket, before any answer, within IDLE_CLOSE_WINDOW_MS of being sent. Browsers and curl retry
   *  those the same way (RFC 9112 9.3.1), so they are reported, not counted as failed. */
  retried: number;
  /** Of `failed`: requests reset before any answer on a connection the loop had just opened, not
   *  reused. A Caddy reload can do that to a connection being opened at its instant (measured
   *  on Caddy 2.6.2: 1 in ~150 reloads on a 2-core box kept saturated, none in 60 on an idle one);
   *  a browser shows it as an error too, so it stays a failure, counted apart to be named. */
  newConnectionResets: number;
  /** Longest time between two successful responses, in ms. */
  longestGapMs: number;
  /** When that gap ended, in ms since the loop started: to line it up with what ran then. */
  longestGapEndMs: number;
  p99Ms: number;
  /** Response body -> count (the version served). */
  bodies: Record<string, number>;
  /** [time since start ms, body] of the first response with each body. */
  firstSeen: Record<string, number>;
  errors: string[];
}

/** How soon after a request went out a reset still means "closed as idle" rather than "reset while
 *  being served": a graceful reload closes only idle connections, so its reset meets the request
 *  within a round trip on loopback. But the loop sees it only when its own event loop runs: on a
 *  saturated 2-core box (measured with two busy loops beside 150 reloads) one came 63 ms late, so
 *  the window is 250 ms; a request the server works on is answered, not reset, by a graceful reload. */
export const IDLE_CLOSE_WINDOW_MS = 250;

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
  const report: LoadReport = {
    requests: 0,
    ok: 0,
    failed: 0,
    retried: 0,
    newConnectionResets: 0,
    longestGapMs: 0,
    longestGapEndMs: 0,
    p99Ms: 0,
    bodies: {},
    firstSeen: {},
    errors: [],
  };
  const latencies: number[] = [];
  let lastOk = started;
  let stopped = false;

  // node:http rather than fetch: it says whether a request went out on a reused keep-alive socket,
  // and lets the retry use a fresh connection (fetch would pick another pooled one, which the same
  // reload may have closed too).
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const once = (fresh: boolean): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const headers = options.host ? { host: options.host } : undefined;
      const request = get(url, { agent: fresh ? false : agent, timeout: options.requestTimeoutMs ?? 10_000, headers }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: body.trim() }));
        response.on('error', reject);
      });
      let sentAt: number | undefined;
      request.on('finish', () => (sentAt = performance.now()));
      request.on('timeout', () => request.destroy(new Error('request timed out')));
      request.on('error', (error: NodeJS.ErrnoException) => {
        // Closed by the server before any answer, on a socket kept alive from an earlier request,
        // at once: the proxy closed that connection as idle while the request went out. A reset
        // later than that hit a request the server was already working on: a failure.
        const afterMs = sentAt === undefined ? undefined : performance.now() - sentAt;
        const tagged = error as NodeJS.ErrnoException & { staleSocket?: boolean; socketNote?: string; newReset?: boolean };
        tagged.newReset = !request.reusedSocket && ['ECONNRESET', 'EPIPE'].includes(error.code ?? '');
        tagged.staleSocket =
          request.reusedSocket &&
          ['ECONNRESET', 'EPIPE'].includes(error.code ?? '') &&
          (afterMs === undefined || afterMs <= IDLE_CLOSE_WINDOW_MS);
        tagged.socketNote = `${request.reusedSocket ? 'reused' : fresh ? 'fresh retry' : 'new'} connection, ${afterMs === undefined ? 'before the request was sent' : `${Math.round(afterMs)} ms after sending`}`;
        reject(error);
      });
    });
  const closedBeforeAnswer = (error: unknown) => Boolean((error as { staleSocket?: boolean }).staleSocket);

  const spacingMs = options.ratePerSecond ? (1000 * concurrency) / options.ratePerSecond : 0;
  const worker = async (_: unknown, index: number) => {
    let nextAt = started + (spacingMs * index) / concurrency;
    while (!stopped && report.requests < maxRequests && performance.now() - started < maxMs) {
      if (spacingMs) {
        const wait = nextAt - performance.now();
        nextAt = Math.max(nextAt, performance.now() - spacingMs) + spacingMs;
        if (wait > 0) await sleep(wait);
        if (stopped) break;
      }
      report.requests++;
      const t0 = performance.now();
      try {
        let answer: { status: number; body: string };
        try {
          answer = await once(false);
        } catch (error) {
          if (options.retry === false || !closedBeforeAnswer(error)) throw error;
          report.retried++;
          answer = await once(true);
        }
        const now = performance.now();
        latencies.push(now - t0);
        if (answer.status < 200 || answer.status >= 300) throw new Error(`HTTP ${answer.status}`);
        report.ok++;
        if (now - lastOk > report.longestGapMs) {
          report.longestGapMs = now - lastOk;
          report.longestGapEndMs = Math.round(now - started);
        }
        lastOk = now;
        report.bodies[answer.body] = (report.bodies[answer.body] ?? 0) + 1;
        report.firstSeen[answer.body] ??= Math.round(now - started);
        options.onAnswer?.(now, answer.body);
      } catch (error) {
        report.failed++;
        if ((error as { newReset?: boolean }).newReset) report.newConnectionResets++;
        const { code, socketNote } = error as NodeJS.ErrnoException & { socketNote?: string };
        const text = `${errorMessage(error)}${code ? ` (${code})` : ''}${socketNote ? `, ${socketNote}` : ''}`;
        if (report.errors.length < 5) report.errors.push(`${Math.round(performance.now() - started)} ms: ${text}`);
      }
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  return {
    async stop() {
      stopped = true;
      await Promise.all(workers);
      agent.destroy();
      latencies.sort((a, b) => a - b);
      report.p99Ms = Math.round(latencies[Math.floor(latencies.length * 0.99)] ?? 0);
      report.longestGapMs = Math.round(report.longestGapMs);
      return report;
    },
  };
}

export interface Handover {
  /** From `since` to the first answer with the new body; NaN when none came. */
  firstNewMs: number;
  /** From `since` to the last answer with the old body (traffic was all new after it); NaN when none came. */
  lastOldMs: number;
  /** How long both were served: last old answer - first new one, 0 when the old one never
   *  answered after the new one did. */
  mixedMs: number;
}

/** When traffic moved from the `from` body to the `to` body, read from every answer's time (what
 *  onAnswer reports): a switch that flips at once has a mixed window of 0, a rolling update one as
 *  long as old and new tasks both take requests. */
export function handover(answers: readonly { at: number; body: string }[], since: number, from: string, to: string): Handover {
  let firstNew = Number.NaN;
  let lastOld = Number.NaN;
  for (const { at, body } of answers) {
    if (at < since) continue;
    // In any order: NaN compares false, so the first of each is taken.
    if (body === to && !(at >= firstNew)) firstNew = at;
    if (body === from && !(at <= lastOld)) lastOld = at;
  }
  return {
    firstNewMs: firstNew - since,
    lastOldMs: lastOld - since,
    mixedMs: lastOld > firstNew ? lastOld - firstNew : 0,
  };
}
