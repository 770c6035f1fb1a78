// One front door for every product: two products behind one edge Caddy run by a third compose
// project, on the real engine. Every answer names the container that gave it and, once that
// container is ready (its health path answers, berth's rule), when it became ready: an answer
// without that time, or from before it, is traffic sent to a container before it was healthy.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLoad, type LoadReport } from '../../lib/dev/load-loop.mts';
import { httpGet } from '../../lib/deploy/proxy.mts';
import type { StatusReport } from '../../lib/ops/status.mts';
import { engineAvailable, rigRunner, usePrefix, useRegistry } from '../rig/index.mts';
import { makeEdgeFixture, type EdgeFixture } from '../rig/edge.mts';
import { runningContainers, type FixtureProduct } from '../rig/fixture-product.mts';

const SWITCHES = 20;
/** Requests a second per host, paced: the steady load the issue measured (~180/s). Unpaced, two
 *  loops saturate a 2-core box and the gaps measure CPU starvation more than the switch. */
const RATE = 200;
/** No container restart in the gap: a plain `up -d` leaves 1.3 s with no answer (Caddy holds the
 *  requests, so none fails: the gap is the only sign). The switch's own figure (the 100 ms target:
 *  38-45 ms here) is measured by `npm run bench -- edge`, not asserted: on this 2-core box, CI's
 *  runs gave 41-102 ms (v2) and 50-173 ms (v1), so a tighter bound measured the machine's load. */
const MAX_GAP_MS = 500;

describe.skipIf(!engineAvailable)('one edge Caddy in front of two products', () => {
  const prefix = usePrefix();
  const registry = useRegistry();
  let fixture: EdgeFixture;
  let a: FixtureProduct;
  let b: FixtureProduct;
  let base: string;

  const deploy = (product: FixtureProduct, tag: string, env: Record<string, string> = {}) =>
    product.berth([product.name, '--tag', tag], { env });
  const ask = async (host: string, path = '/version') => {
    const answer = await httpGet(`${base}${path}`, host);
    return { status: answer.status, body: answer.body.trim() };
  };
  const siteFile = (product: FixtureProduct) => join(fixture.sitesDir, `${product.name}.caddy`);

  /** Load on both hosts while `work` runs; every answer's arrival (ms since the epoch) by the container that gave it. */
  async function underLoad(work: () => Promise<void>): Promise<{ reports: LoadReport[]; firstAnswer: Map<string, number> }> {
    const firstAnswer = new Map<string, number>();
    const onAnswer = (at: number, body: string) => {
      if (!firstAnswer.has(body)) firstAnswer.set(body, performance.timeOrigin + at);
    };
    const loads = ['a.test', 'b.test'].map((host) =>
      startLoad(`${base}/who`, { host, concurrency: 2, ratePerSecond: RATE, maxMs: 600_000, maxRequests: 2_000_000, onAnswer }),
    );
    let reports: LoadReport[] = [];
    try {
      await work();
    } finally {
      reports = await Promise.all(loads.map((l) => l.stop()));
    }
    return { reports, firstAnswer };
  }

  /** Every answer came from a ready container, after it became ready. */
  function expectNoAnswerBeforeReady(firstAnswer: Map<string, number>): void {
    expect(firstAnswer.size).toBeGreaterThan(0);
    for (const [body, answeredAt] of firstAnswer) {
      const [who, readyMicros] = body.split(' ');
      expect(readyMicros, `${who} answered before it was ready`).toMatch(/^\d+$/);
      expect(answeredAt, `${who} answered before it was ready`).toBeGreaterThanOrEqual(Number(readyMicros) / 1000);
    }
  }

  beforeAll(async () => {
    fixture = await makeEdgeFixture({ prefix, registry: registry.address });
    a = await fixture.addProduct(`${prefix}-a`, 'a.test');
    b = await fixture.addProduct(`${prefix}-b`, 'b.test');
    for (const product of [a, b]) {
      await product.pushApp('web', 'v1');
      // v2 answers from its first moment but is healthy only 1.5 s later: traffic must wait.
      await product.pushApp('web', 'v2', { healthyDelaySeconds: 1.5 });
    }
  });
  afterAll(async () => {
    await fixture?.remove();
  });

  it('refuses a product while its edge is not running, and starts nothing', async () => {
    const result = await deploy(a, 'v1');
    expect(result.exitCode, result.stderr).toBe(3);
    expect(result.stderr).toContain(
      `error: the edge proxy ${fixture.name}/proxy is not running, so ${a.name} cannot be switched behind it; nothing was changed`,
    );
    expect(await runningContainers(a)).toEqual([]);
  });

  it('deploys the edge, then each product behind it: each host reaches its own product, others get a 404', async () => {
    const edge = await deploy(fixture.edge, 'edge1');
    expect(edge.exitCode, edge.stderr).toBe(0);
    base = `http://127.0.0.1:${await fixture.port()}`;
    for (const product of [a, b]) {
      const result = await deploy(product, 'v1');
      expect(result.exitCode, result.stderr).toBe(0);
    }
    const [webA] = await runningContainers(a, 'web');
    const [webB] = await runningContainers(b, 'web');
    expect((await ask('a.test', '/who')).body).toMatch(new RegExp(`^${webA?.id.slice(0, 12)} \\d+$`));
    expect((await ask('b.test', '/who')).body).toMatch(new RegExp(`^${webB?.id.slice(0, 12)} \\d+$`));
    expect((await ask('nobody.test')).status).toBe(404);
    // By a name the edge looks up, never by address: the route survives a new IP, and a switch
    // hands the name to the new container without a reload.
    expect(webA?.name).toBe(`${a.name}-web`);
    expect(readFileSync(siteFile(a), 'utf8')).toContain(`dynamic a ${a.name}-web 8080 {`);
  });

  it(`switches ${SWITCHES} times across both products under load: 0 failed, no answer before healthy`, async () => {
    const { reports, firstAnswer } = await underLoad(async () => {
      for (let i = 0; i < SWITCHES; i++) {
        const product = i % 2 === 0 ? a : b;
        const result = await deploy(product, Math.floor(i / 2) % 2 === 0 ? 'v2' : 'v1');
        expect(result.exitCode, result.stderr).toBe(0);
      }
    });
    for (const [host, report] of [
      ['a.test', reports[0]],
      ['b.test', reports[1]],
    ] as const) {
      console.log(
        `${host}: ${report?.requests} requests, ${report?.failed} failed, ${report?.retried} retried after a reload closed an idle connection, longest gap ${report?.longestGapMs} ms, p99 ${report?.p99Ms} ms`,
      );
      expect(report?.errors).toEqual([]);
      expect(report?.failed).toBe(0);
      expect(report?.longestGapMs).toBeLessThanOrEqual(MAX_GAP_MS);
      // A handover changes nothing Caddy reads: no reload, so no connection closed, so nothing to retry.
      expect(report?.retried).toBe(0);
    }
    // Every switch brought a new container into the answers (10 per product, plus the first ones).
    expect(firstAnswer.size).toBeGreaterThanOrEqual(SWITCHES);
    expectNoAnswerBeforeReady(firstAnswer);
  }, 900_000);

  it('deploy-all switches both products through the edge at once under load: both switched, 0 failed', async () => {
    const before = { a: (await runningContainers(a, 'web'))[0]?.id, b: (await runningContainers(b, 'web'))[0]?.id };
    const shas: string[] = [];
    for (const product of [a, b]) {
      const sha = await product.repo.commit({ 'CHANGES.md': `release of ${product.name}\n` });
      await product.pushApp('web', sha, { healthyDelaySeconds: 1 });
      shas.push(sha);
    }
    let result: Awaited<ReturnType<FixtureProduct['berth']>> | undefined;
    const { reports, firstAnswer } = await underLoad(async () => {
      result = await a.berth(['--products', `${a.name},${b.name}`], { script: 'deploy-all' });
    });
    expect(result?.exitCode, result?.stderr).toBe(0);
    for (const report of reports) {
      expect(report.errors).toEqual([]);
      expect(report.failed).toBe(0);
    }
    expectNoAnswerBeforeReady(firstAnswer);
    expect(await ask('a.test')).toEqual({ status: 200, body: shas[0] });
    expect(await ask('b.test')).toEqual({ status: 200, body: shas[1] });
    const after = { a: (await runningContainers(a, 'web'))[0], b: (await runningContainers(b, 'web'))[0] };
    expect(after.a?.id).not.toBe(before.a);
    expect(after.b?.id).not.toBe(before.b);
    // Each product's routed name went to its new container; both site files still route them.
    expect(after.a?.name).toBe(`${a.name}-web`);
    expect(after.b?.name).toBe(`${b.name}-web`);
    expect(readFileSync(siteFile(a), 'utf8')).toContain(`dynamic a ${a.name}-web 8080 {`);
    expect(readFileSync(siteFile(b), 'utf8')).toContain(`dynamic a ${b.name}-web 8080 {`);
  }, 300_000);

  it('keeps serving a container whose address changed, with no berth command', async () => {
    const [web] = await runningContainers(a, 'web');
    const id = web?.id as string;
    const before = web?.networks[fixture.network] as string;
    // Back on another address, and a squatter on the old one: an upstream by IP would now reach it.
    const other = fixture.subnet.replace(/0\/24$/, '200');
    await rigRunner.run(['docker', 'network', 'disconnect', fixture.network, id]);
    try {
      await rigRunner.run([
        'docker',
        'run',
        '-d',
        '--name',
        `${prefix}-squatter`,
        '--network',
        fixture.network,
        '--ip',
        before,
        `${registry.address}/${a.name}-web:v1`,
      ]);
    } finally {
      await rigRunner.run(['docker', 'network', 'connect', '--ip', other, fixture.network, id]);
    }
    expect((await runningContainers(a, 'web'))[0]?.networks[fixture.network]).toBe(other);
    // The edge looks the name up again within one refresh (500 ms); until then its cached answer
    // is the old address.
    await sleep(1_200);
    for (let i = 0; i < 10; i++) expect((await ask('a.test', '/who')).body).toMatch(new RegExp(`^${id.slice(0, 12)} \\d+$`));
    await rigRunner.run(['docker', 'rm', '--force', `${prefix}-squatter`]);
  });

  it('repairs a handover killed between its two renames: the next deploy gives the name back, with no reload', async () => {
    const [web] = await runningContainers(a, 'web');
    const site = readFileSync(siteFile(a), 'utf8');
    // What SIGKILL between the renames leaves: the routed name held by no container.
    await rigRunner.run(['docker', 'rename', web?.id as string, `${a.name}-web-limbo`]);
    const result = await deploy(a, 'v1');
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toContain(`warning: web: ${a.name}-web is held by no running container`);
    expect(result.stderr).toContain(`web: ${a.name}-web given to ${a.name}-web-limbo`);
    const [now] = await runningContainers(a, 'web');
    expect(now?.name).toBe(`${a.name}-web`);
    expect(readFileSync(siteFile(a), 'utf8')).toBe(site);
    expect(await ask('a.test')).toEqual({ status: 200, body: 'v1' });
  });

  it('--dry-run says which way each service would switch, and changes nothing', async () => {
    const [web] = await runningContainers(a, 'web');
    const site = readFileSync(siteFile(a), 'utf8');
    const result = await a.berth([a.name, '--tag', 'v2', '--dry-run']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toContain(
      `hand ${a.name}-web to the new web container (docker rename ${a.name}-web '<its compose name>' && docker rename '<new container>' ${a.name}-web`,
    );
    expect((await runningContainers(a, 'web')).map((c) => c.id)).toEqual([web?.id]);
    expect(readFileSync(siteFile(a), 'utf8')).toBe(site);
  });

  it('status shows each route and the containers it reaches now', async () => {
    const result = await a.berth(['--json'], { script: 'status' });
    expect(result.exitCode, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as StatusReport;
    for (const [product, host] of [
      [a, 'a.test'],
      [b, 'b.test'],
    ] as const) {
      const [web] = await runningContainers(product, 'web');
      expect(report.products.find((p) => p.product === product.name)?.routes).toEqual([
        {
          host,
          service: 'web',
          via: 'edge',
          upstreams: [{ address: `${web?.name}:8080`, container: web?.name, state: 'running', health: expect.any(String) }],
        },
      ]);
    }
    const human = await a.berth([a.name], { script: 'status' });
    expect(human.stdout + human.stderr).toMatch(new RegExp(`route a\\.test +-> web: ${a.name}-web \\((healthy|starting)\\)`));
  });

  it('refuses a host that another product already routes, with Caddy’s message, before anything starts', async () => {
    const c = await fixture.addProduct(`${prefix}-c`, 'a.test');
    await c.pushApp('web', 'v1');
    const siteBefore = readFileSync(siteFile(a), 'utf8');
    const result = await deploy(c, 'v1');
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`error: the edge proxy refuses ${c.name}'s routes: .*a\\.test`));
    expect(await runningContainers(c)).toEqual([]);
    expect(existsSync(siteFile(c))).toBe(false);
    expect(readFileSync(siteFile(a), 'utf8')).toBe(siteBefore);
    expect((await ask('a.test')).status).toBe(200);
  });

  it('refuses an invalid route and a service off the edge network, each with the fix, touching nothing', async () => {
    const bad = await fixture.addProduct(`${prefix}-d`, 'Bad Host');
    const invalid = await deploy(bad, 'v1');
    expect(invalid.exitCode).toBe(2);
    expect(invalid.stderr).toContain('services.web.routes[0].host: expected a host name like app.example.com');
    const off = await fixture.addProduct(`${prefix}-e`, 'e.test', { onEdgeNetwork: false });
    await off.pushApp('web', 'v1');
    const result = await deploy(off, 'v1');
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toContain(`services.web: not on the edge network '${fixture.network}'`);
    expect(result.stderr).toContain('`networks: [default, edge]`');
    expect(await runningContainers(off)).toEqual([]);
    expect(existsSync(siteFile(off))).toBe(false);
    expect((await ask('a.test')).status).toBe(200);
  });
});
