// The load loop decides what the switch tests and benches report as failed, retried and gap: each
// rule is checked here against a real HTTP server on 127.0.0.1 that misbehaves on purpose.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { handover, startLoad } from '../../lib/dev/load-loop.mts';

let server: Server | undefined;

async function serve(handler: (req: IncomingMessage, res: ServerResponse, nth: number, socketNth: number) => void): Promise<string> {
  let nth = 0;
  const perSocket = new WeakMap<Socket, number>();
  server = createServer((req, res) => {
    const onSocket = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, onSocket);
    handler(req, res, ++nth, onSocket);
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

afterEach(async () => {
  const open = server;
  server = undefined;
  if (!open) return;
  open.closeAllConnections();
  await new Promise((resolve) => open.close(resolve));
});

describe('load loop', () => {
  it('targets only this machine', () => {
    expect(() => startLoad('http://10.0.0.1/')).toThrow(/only target this machine/);
  });

  it('paces itself to ratePerSecond, and sends the Host header it is given', async () => {
    const hosts = new Set<string>();
    const url = await serve((req, res) => {
      hosts.add(req.headers.host ?? '');
      res.end('ok');
    });
    const loop = startLoad(url, { concurrency: 2, ratePerSecond: 100, host: 'a.test' });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const report = await loop.stop();
    // Unpaced, this server answers thousands in 0.5 s; paced, about 50.
    expect(report.requests).toBeGreaterThanOrEqual(20);
    expect(report.requests).toBeLessThanOrEqual(60);
    expect(report.failed).toBe(0);
    expect([...hosts]).toEqual(['a.test']);
  });

  it('counts answers by body, stops at maxRequests and reports every good answer', async () => {
    const url = await serve((_req, res, nth) => res.end(nth <= 5 ? 'v1\n' : 'v2'));
    const seen: string[] = [];
    const report = await new Promise<Awaited<ReturnType<ReturnType<typeof startLoad>['stop']>>>((resolve) => {
      const loop = startLoad(url, { concurrency: 1, maxRequests: 12, onAnswer: (_at, body) => seen.push(body) });
      setTimeout(() => void loop.stop().then(resolve), 300);
    });
    expect(report).toMatchObject({ requests: 12, ok: 12, failed: 0, retried: 0, bodies: { v1: 5, v2: 7 } });
    expect(seen).toEqual([...Array(5).fill('v1'), ...Array(7).fill('v2')]);
    expect(report.firstSeen.v1).toBeLessThanOrEqual(report.firstSeen.v2 as number);
  });

  it('retries once, on a fresh connection, a request the server closed on a reused keep-alive socket', async () => {
    // The second request on every connection is dropped before any answer, as a reload does to an idle one.
    const url = await serve((req, res, _nth, onSocket) => (onSocket >= 2 ? req.socket.destroy() : res.end('ok')));
    const loop = startLoad(url, { concurrency: 1, maxRequests: 6 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const report = await loop.stop();
    expect(report.failed).toBe(0);
    expect(report.ok).toBe(6);
    expect(report.retried).toBeGreaterThanOrEqual(1);
    expect(report.retried).toBeLessThanOrEqual(5);
  });

  it('counts as failed, not retried, a request reset on a reused socket after the server began on it', async () => {
    // The second request on a connection is read, worked on for 400 ms, then reset: not an idle close.
    const url = await serve((req, res, _nth, onSocket) => (onSocket >= 2 ? setTimeout(() => req.socket.destroy(), 400) : res.end('ok')));
    const loop = startLoad(url, { concurrency: 1, maxRequests: 2 });
    await new Promise((resolve) => setTimeout(resolve, 700));
    const report = await loop.stop();
    expect(report).toMatchObject({ requests: 2, ok: 1, failed: 1, retried: 0, newConnectionResets: 0 });
    expect(report.errors[0]).toMatch(/, reused connection, \d+ ms after sending$/);
  });

  it('with retry: false, counts that same close as failed, as a client that never retries sees it', async () => {
    const url = await serve((req, res, _nth, onSocket) => (onSocket >= 2 ? req.socket.destroy() : res.end('ok')));
    const loop = startLoad(url, { concurrency: 1, maxRequests: 4, retry: false });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const report = await loop.stop();
    expect(report.retried).toBe(0);
    expect(report.failed).toBeGreaterThanOrEqual(1);
    expect(report.errors[0]).toMatch(/ECONNRESET|socket hang up/);
  });

  it('counts as failed a reset on a fresh connection and an error status, and keeps their messages', async () => {
    const url = await serve((req, res, nth) => {
      if (nth === 1) {
        // The very first request on its connection: not a stale keep-alive socket, so no retry.
        req.socket.destroy();
        return;
      }
      res.statusCode = nth === 2 ? 502 : 200;
      res.end('x');
    });
    const loop = startLoad(url, { concurrency: 1, maxRequests: 4 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const report = await loop.stop();
    expect(report).toMatchObject({ requests: 4, ok: 2, failed: 2, retried: 0, newConnectionResets: 1 });
    expect(report.errors).toHaveLength(2);
    expect(report.errors[0]).toMatch(/\(ECONNRESET\), new connection, \d+ ms after sending$/);
    expect(report.errors[1]).toMatch(/HTTP 502/);
  });

  it('measures the longest time between two good answers', async () => {
    const url = await serve((_req, res, nth) => {
      if (nth === 3) setTimeout(() => res.end('slow'), 250);
      else res.end('fast');
    });
    const loop = startLoad(url, { concurrency: 1, maxRequests: 6 });
    await new Promise((resolve) => setTimeout(resolve, 600));
    const report = await loop.stop();
    expect(report.ok).toBe(6);
    expect(report.longestGapMs).toBeGreaterThanOrEqual(240);
  });

  it('fails a request that outlives requestTimeoutMs', async () => {
    const url = await serve((_req, res, nth) => {
      if (nth === 1) return; // never answers
      res.end('ok');
    });
    const loop = startLoad(url, { concurrency: 1, maxRequests: 2, requestTimeoutMs: 100 });
    await new Promise((resolve) => setTimeout(resolve, 400));
    const report = await loop.stop();
    expect(report).toMatchObject({ requests: 2, ok: 1, failed: 1 });
    expect(report.errors[0]).toMatch(/timed out/);
  });
});

describe('handover', () => {
  const answers = (...pairs: [number, string][]) => pairs.map(([at, body]) => ({ at, body }));

  it('a switch that flips at once: first new right after the last old, nothing mixed', () => {
    expect(handover(answers([90, 'v1'], [110, 'v1'], [150, 'v1'], [160, 'v2'], [170, 'v2']), 100, 'v1', 'v2')).toEqual({
      firstNewMs: 60,
      lastOldMs: 50,
      mixedMs: 0,
    });
  });

  it('a rolling update: both served from the first new answer to the last old one, in whatever order answers came', () => {
    const rolling = answers([400, 'v1'], [120, 'v1'], [300, 'v2'], [350, 'v1'], [200, 'v2'], [500, 'v2']);
    expect(handover(rolling, 100, 'v1', 'v2')).toEqual({ firstNewMs: 100, lastOldMs: 300, mixedMs: 200 });
  });

  it('ignores answers before `since`, other bodies, and says NaN for a version never seen', () => {
    const result = handover(answers([50, 'v2'], [120, 'v1'], [130, 'other']), 100, 'v1', 'v2');
    expect(result.firstNewMs).toBeNaN();
    expect(result.lastOldMs).toBe(20);
    expect(result.mixedMs).toBe(0);
  });
});
