// deploy-all on the real engine: two fixture products (three services) with real git history in
// one products dir, a webhook listener on 127.0.0.1, the deploy log and the Prometheus textfile.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineAvailable, makeProductsDir, rigRunner, usePrefix, useRegistry } from '../rig/index.mts';
import { makeFixtureProduct, type FixtureProduct, containerIds, servedVersion } from '../rig/fixture-product.mts';
import type { DeployLogRecord } from '../../lib/report/metrics.mts';
import type { WebhookBody } from '../../lib/report/webhook.mts';
import { readLedger } from '../../lib/releases/ledger.mts';

const HEALTH = `health: { path: '/healthz', port: 8080, timeoutSeconds: 6 }`;

interface Outcome {
  product: string;
  tag: string;
  result: string;
  changed: string[];
  plan: Record<string, { action: string; reason: string }>;
  durationsMs: Record<string, number>;
  failedStep?: string;
  error?: string;
}

interface Fixture {
  product: FixtureProduct;
  services: string[];
  shas: string[];
}

/** A webhook that records every body it is sent. */
async function startListener(): Promise<{ server: Server; url: string; bodies: WebhookBody[] }> {
  const bodies: WebhookBody[] = [];
  const server = createServer((request, response) => {
    let data = '';
    request.on('data', (chunk: Buffer) => (data += chunk.toString()));
    request.on('end', () => {
      bodies.push(JSON.parse(data) as WebhookBody);
      response.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/T0K3N`, bodies };
}

/** What CI does on a commit: every service tagged with the SHA, new images only for the changed ones. */
async function release(fixture: Fixture, files: Record<string, string>, versions: Record<string, string>, healthy = true): Promise<string> {
  const { product } = fixture;
  const sha = fixture.shas.length === 0 ? product.repo.sha : await product.repo.commit(files);
  for (const service of fixture.services) {
    const version = versions[service];
    if (version) await product.pushApp(service, sha, { version, healthy });
    else await product.retag(service, 'ci-latest', sha);
    if (healthy || !version)
      await rigRunner.run(['docker', 'tag', `${product.repository(service)}:${sha}`, `${product.repository(service)}:ci-latest`]);
    // Only the registry keeps the release tag, as on a VM: whatever is local afterwards was pulled.
    await rigRunner.run(['docker', 'image', 'rm', `${product.repository(service)}:${sha}`]);
  }
  fixture.shas.push(sha);
  return sha;
}

describe.skipIf(!engineAvailable)('deploy-all on the real engine', () => {
  const prefix = usePrefix();
  const registry = useRegistry();
  let a: Fixture;
  let b: Fixture;
  let stateDir: string;
  let products: { dir: string; remove(): Promise<void> };
  let listener: Awaited<ReturnType<typeof startListener>>;
  const textfile = () => join(stateDir, 'metrics', 'berth.prom');

  async function deployAll(args: string[] = [], env: Record<string, string> = {}) {
    const result = await a.product.berth(['--json', ...args], {
      script: 'deploy-all',
      env: { BERTH_WEBHOOK_URL: listener.url, BERTH_PROMETHEUS_TEXTFILE: textfile(), ...env },
    });
    const json = result.stdout ? (JSON.parse(result.stdout) as { ok: boolean; products: Outcome[] }) : undefined;
    const of = (fixture: Fixture) => json?.products.find((p) => p.product === fixture.product.name) as Outcome;
    return { ...result, json, a: of(a), b: of(b) };
  }

  beforeAll(async () => {
    products = await makeProductsDir();
    stateDir = await mkdtemp(join(tmpdir(), `${prefix}-state-`));
    listener = await startListener();
    const shared = { registry: registry.address, productsDir: products.dir, stateDir };
    a = {
      services: ['web', 'api'],
      shas: [],
      product: await makeFixtureProduct({
        ...shared,
        prefix: `${prefix}-a`,
        services: { web: { product: `${HEALTH}, build: { context: 'web' }` }, api: { product: `${HEALTH}, build: { context: 'api' }` } },
        files: { 'web/page.txt': 'web 1\n', 'api/main.txt': 'api 1\n' },
      }),
    };
    b = {
      services: ['svc'],
      shas: [],
      product: await makeFixtureProduct({
        ...shared,
        prefix: `${prefix}-b`,
        services: { svc: { product: `${HEALTH}, build: { context: 'svc' }` } },
        files: { 'svc/main.txt': 'svc 1\n' },
      }),
    };
    await release(a, {}, { web: 'a-web-1', api: 'a-api-1' });
    await release(b, {}, { svc: 'b-svc-1' });
  });
  afterAll(async () => {
    await new Promise((resolve) => listener?.server.close(resolve));
    await a?.product.remove();
    await b?.product.remove();
    await products?.remove();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  it('first run: plans and deploys both products, and notifies', async () => {
    const run = await deployAll();
    expect(run.stderr).not.toMatch(/error:/);
    expect(run.exitCode).toBe(0);
    expect(run.a).toMatchObject({ result: 'ok', changed: ['web', 'api'] });
    expect(run.b).toMatchObject({ result: 'ok', changed: ['svc'] });
    expect(listener.bodies).toHaveLength(1);
    expect(listener.bodies[0]?.text).toMatch(/^berth deploy-all: 2 deployed, run by berth-test@/);
  });

  it('nothing changed: no container changes, every service says why, and the plan is all it costs', async () => {
    const before = { a: await containerIds(a.product), b: await containerIds(b.product) };
    const run = await deployAll();
    expect(run.exitCode).toBe(0);
    expect({ a: await containerIds(a.product), b: await containerIds(b.product) }).toEqual(before);
    for (const [fixture, outcome] of [
      [a, run.a],
      [b, run.b],
    ] as const) {
      expect(outcome.changed).toEqual([]);
      expect(Object.keys(outcome.plan).sort()).toEqual([...fixture.services].sort());
      for (const [service, plan] of Object.entries(outcome.plan)) {
        expect(plan, service).toEqual({ action: 'keep', reason: `unchanged since ${fixture.shas[0]?.slice(0, 7)}` });
        expect(run.stderr).toMatch(new RegExp(`\\n\\s+${service}\\s+keep\\s+unchanged since ${fixture.shas[0]?.slice(0, 7)}\\n`));
      }
      expect(Object.keys(outcome.durationsMs).sort()).toEqual(['plan', 'total']);
    }
    // Nothing was deployed, so nobody is paged; the log still has a record per product.
    expect(listener.bodies).toHaveLength(1);
    const log = (await readFile(join(stateDir, 'deploys.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as DeployLogRecord);
    expect(log.slice(-2).map((r) => [r.product, r.result])).toEqual([
      [a.product.name, 'unchanged'],
      [b.product.name, 'unchanged'],
    ]);
  });

  it('a commit touching one service: only it is pulled and recreated, the others keep their containers', async () => {
    const before = { a: await containerIds(a.product), b: await containerIds(b.product) };
    const sha = await release(a, { 'web/page.txt': 'web 2\n' }, { web: 'a-web-2' });
    const run = await deployAll();
    expect(run.exitCode).toBe(0);
    expect(run.a.changed).toEqual(['web']);
    expect(run.a.plan.api).toEqual({ action: 'keep', reason: `unchanged since ${a.shas[0]?.slice(0, 7)}` });
    expect(run.a.plan.web?.reason).toMatch(new RegExp(`^web/page.txt changed since ${a.shas[0]?.slice(0, 7)}`));
    expect(run.b.changed).toEqual([]);
    expect(run.stderr).toMatch(new RegExp(`\\n\\s+web\\s+replace\\s+web/page.txt changed since ${a.shas[0]?.slice(0, 7)}\\n`));
    const after = { a: await containerIds(a.product), b: await containerIds(b.product) };
    expect(after.a.web).not.toBe(before.a.web);
    expect(after.a.api).toBe(before.a.api);
    expect(after.b).toEqual(before.b);
    expect(await servedVersion(a.product, 'web')).toBe('a-web-2');
    expect((await rigRunner.probe(['docker', 'image', 'inspect', `${a.product.repository('api')}:${sha}`])).exitCode).not.toBe(0);

    const body = listener.bodies.at(-1) as WebhookBody;
    expect(body.text).toMatch(new RegExp(`^berth deploy-all: 1 deployed, 1 unchanged, run by berth-test@`));
    expect(body.attachments).toHaveLength(1);
    const fields = Object.fromEntries(body.attachments[0]?.fields.map((f) => [f.title, f.value]) ?? []);
    expect(fields).toMatchObject({ Product: a.product.name, Release: sha, Result: 'ok', 'Services changed': 'web' });
    expect(fields['Run by']).toMatch(/^berth-test@/);
    expect(fields.Duration).toMatch(/^\d+\.\d+s$/);
  });

  it('the deployed commit pushed again as another image (a rebuild): the quick plan does not settle it, only that service is replaced', async () => {
    const before = { a: await containerIds(a.product), b: await containerIds(b.product) };
    const sha = b.shas[0] as string;
    await b.product.pushApp('svc', sha, { version: 'b-svc-1-rebuilt' });
    await rigRunner.run(['docker', 'image', 'rm', `${b.product.repository('svc')}:${sha}`]);
    const run = await deployAll(['--verbose']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toContain(`full plan: the registry's svc:${sha.slice(0, 7)} is another image than the one running (rebuilt)`);
    expect(run.b.changed).toEqual(['svc']);
    expect(run.a.changed).toEqual([]);
    expect(await servedVersion(b.product, 'svc')).toBe('b-svc-1-rebuilt');
    expect(await containerIds(a.product)).toEqual(before.a);
  });

  it('one product unhealthy: the other still deploys, exit non-zero, the summary, log, textfile and webhook show both', async () => {
    await release(a, { 'web/page.txt': 'web 3\n' }, { web: 'a-web-3' }, false);
    await release(b, { 'svc/main.txt': 'svc 2\n' }, { svc: 'b-svc-2' });
    const run = await deployAll();
    expect(run.exitCode).toBe(1);
    expect(run.json?.ok).toBe(false);
    expect(run.a).toMatchObject({ result: 'failed', failedStep: 'health', changed: ['web'] });
    expect(run.b).toMatchObject({ result: 'ok', changed: ['svc'] });
    expect(await servedVersion(b.product, 'svc')).toBe('b-svc-2');
    expect(run.stderr).toMatch(new RegExp(`\\n\\s+${a.product.name}\\s+failed\\s+web\\s`));
    expect(run.stderr).toMatch(new RegExp(`\\n\\s+${b.product.name}\\s+ok\\s+svc\\s`));
    expect(readLedger(join(stateDir, b.product.name)).at(-1)).toMatchObject({ tag: b.shas.at(-1), result: 'ok' });

    const body = listener.bodies.at(-1) as WebhookBody;
    expect(body.text).toMatch(/^berth deploy-all: 1 failed, 1 deployed, run by /);
    const failed = body.attachments.find((x) => x.title.startsWith(a.product.name));
    expect(failed?.color).toBe('#a30200');
    expect(failed?.fields.find((f) => f.title === 'Failed step')?.value).toMatch(/^health: .*web/);
    // The hook's path carries its token: never in the output.
    expect(run.stderr + run.stdout).not.toContain('T0K3N');

    const prom = await readFile(textfile(), 'utf8');
    expect(prom).toContain('# TYPE berth_deploy_last_success gauge');
    expect(prom).toContain(`berth_deploy_last_success{product="${a.product.name}"} 0`);
    expect(prom).toContain(`berth_deploy_last_success{product="${b.product.name}"} 1`);
    expect(prom).toMatch(new RegExp(`berth_deploy_last_duration_seconds\\{product="${b.product.name}"\\} \\d+(\\.\\d+)?\\n`));
    expect(prom).toMatch(new RegExp(`berth_deploy_last_step_duration_seconds\\{product="${b.product.name}",step="pull"\\} `));
    const log = (await readFile(join(stateDir, 'deploys.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as DeployLogRecord);
    expect(log.slice(-2).find((r) => r.product === a.product.name)).toMatchObject({ result: 'failed', failedStep: 'health' });
    expect(Object.keys(log.slice(-2).find((r) => r.product === b.product.name)?.durationsMs ?? {})).toEqual(
      expect.arrayContaining(['preflight', 'select', 'changes', 'pull', 'up', 'health', 'record', 'total']),
    );
  });

  it('with the webhook down the deploy still succeeds and says the notification failed', async () => {
    const down = await startListener();
    await new Promise((resolve) => down.server.close(resolve));
    await release(b, { 'svc/main.txt': 'svc 3\n' }, { svc: 'b-svc-3' });
    const run = await deployAll(['--products', b.product.name], { BERTH_WEBHOOK_URL: down.url });
    expect(run.exitCode).toBe(0);
    expect(run.b).toMatchObject({ result: 'ok', changed: ['svc'] });
    expect(run.stderr).toMatch(/warning: notification to http:\/\/127\.0\.0\.1:\d+ failed \(ECONNREFUSED\); the deploy result stands/);
    expect(run.stderr).not.toContain('T0K3N');
  });

  it('--dry-run prints the plan and the exact commands, and changes nothing', async () => {
    const before = { a: await containerIds(a.product), b: await containerIds(b.product) };
    const ledgers = [readLedger(join(stateDir, a.product.name)).length, readLedger(join(stateDir, b.product.name)).length];
    await release(b, { 'svc/main.txt': 'svc 4\n' }, { svc: 'b-svc-4' });
    const run = await deployAll(['--dry-run']);
    expect(run.exitCode).toBe(0);
    expect(run.json?.products.every((p) => p.result === 'dry-run')).toBe(true);
    expect(run.b.plan.svc?.reason).toMatch(new RegExp(`^svc/main.txt changed since ${b.shas.at(-2)?.slice(0, 7)}`));
    const pulls = run.stderr.split('\n').filter((l) => /skipped: dry run: would run .*\bpull\b/.test(l));
    expect(pulls.find((l) => l.startsWith(`[${b.product.name}]`))).toMatch(new RegExp(`svc(:${b.shas.at(-1)})?$`));
    expect(pulls.find((l) => l.startsWith(`[${a.product.name}]`))).not.toMatch(/-api\b|\bapi$/);
    expect(run.stderr).toMatch(
      new RegExp(
        `\\[${b.product.name}\\]\\s+skipped: dry run: would run IMAGE_TAG=${b.shas.at(-1)} docker[ -]compose .* up --detach --no-deps --no-build svc`,
      ),
    );
    expect({ a: await containerIds(a.product), b: await containerIds(b.product) }).toEqual(before);
    expect([readLedger(join(stateDir, a.product.name)).length, readLedger(join(stateDir, b.product.name)).length]).toEqual(ledgers);
  });
});
