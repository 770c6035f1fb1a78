// An operator runs the flavour's plain `up -d` by hand in the product's checkout, as the old
// scripts taught, with none of berth's variables in the environment, after berth deployed v1 and
// then v2 (so web is a replica berth started itself, beside the product's own Caddy). Compose must
// start exactly what the ledger says runs, and the site must stay up under load. What Compose
// recreated, the failed requests and the longest gap are printed for the report.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerPort } from '../../lib/commands/caddy.mts';
import { COMPOSE_V1, COMPOSE_V2, type ComposeFlavour } from '../../lib/commands/compose.mts';
import { dockerInspect } from '../../lib/commands/docker.mts';
import { BLOCK_BEGIN } from '../../lib/deploy/compose-env-file.mts';
import { parseUpstreams } from '../../lib/deploy/proxy.mts';
import { BERTH_CONFIG_LABEL } from '../../lib/deploy/replica/labels.mts';
import { startLoad } from '../../lib/dev/load-loop.mts';
import { detectCompose } from '../../lib/engine/compose.mts';
import { readLedger } from '../../lib/releases/ledger.mts';
import { makeEdgeFixture, type EdgeFixture } from '../rig/edge.mts';
import { makeFixtureProduct, proxyService, runningContainers, type FixtureProduct } from '../rig/fixture-product.mts';
import { engineAvailable, rigRunner, usePrefix, useRegistry } from '../rig/index.mts';

/** The environment of an operator's shell: none of berth's variables, nor Compose's. */
function operatorEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const key of Object.keys(process.env)) {
    if (!['PATH', 'HOME', 'USER', 'LANG', 'TERM'].includes(key) && !key.startsWith('DOCKER_')) env[key] = undefined;
  }
  return env;
}

interface Inspected {
  Id: string;
  Name: string;
  HostConfig: { RestartPolicy: { Name: string } };
  Config: { Labels: Record<string, string> };
}

describe.skipIf(!engineAvailable)('a hand-run compose up -d after berth deployed', () => {
  const prefix = usePrefix();
  const registry = useRegistry();
  let product: FixtureProduct;
  let flavour: ComposeFlavour;
  let url: string;

  const stateDir = () => join(product.stateDir, product.name);
  const deploy = (tag: string) => product.berth([product.name, '--tag', tag]);
  const ids = async () => Object.fromEntries((await runningContainers(product)).map((c) => [c.service, c.id]));
  const inspect = async (id: string) => (JSON.parse(await rigRunner.read(dockerInspect([id]))) as Inspected[])[0] as Inspected;

  beforeAll(async () => {
    flavour = await detectCompose(rigRunner);
    const proxy = proxyService(prefix);
    product = await makeFixtureProduct({
      prefix,
      registry: registry.address,
      services: {
        proxy: { ...proxy.spec, compose: [...(proxy.spec.compose ?? []), 'restart: unless-stopped'] },
        web: {
          compose: ['restart: unless-stopped'],
          product: `health: { path: '/healthz', port: 8080, timeoutSeconds: 20 }, drainSeconds: 0.3`,
        },
      },
      files: proxy.files,
    });
    // The operator's own line, in a .env git does not track: berth must keep it as it is.
    writeFileSync(join(product.repo.dir, '.env'), 'OPERATOR_NOTE=kept as is\n');
    await product.pushProxy();
    await product.pushApp('web', 'v1');
    await product.pushApp('web', 'v2');
    for (const tag of ['v1', 'v2']) {
      const result = await deploy(tag);
      expect(result.exitCode, result.stderr).toBe(0);
    }
    const [proxyContainer] = await runningContainers(product, 'proxy');
    const port = (await rigRunner.read(dockerPort(proxyContainer?.id ?? '', 80))).split('\n')[0]?.split(':').pop();
    url = `http://127.0.0.1:${port}/version`;
  }, 300_000);
  afterAll(async () => {
    await product?.remove();
  });

  it("keeps the service's restart policy on the replica berth started itself", async () => {
    const [web] = await runningContainers(product, 'web');
    const inspected = await inspect(web?.id ?? '');
    expect(inspected.Config.Labels[BERTH_CONFIG_LABEL], 'web runs a replica berth started').toBeTruthy();
    expect(inspected.HostConfig.RestartPolicy.Name).toBe('unless-stopped');
  });

  it("writes the release into the checkout's .env after the operator's own lines", () => {
    const text = readFileSync(join(product.repo.dir, '.env'), 'utf8');
    expect(text.startsWith(`OPERATOR_NOTE=kept as is\n${BLOCK_BEGIN}\n`)).toBe(true);
    expect(text).toContain(`\nCOMPOSE_PROJECT_NAME=${product.name}\n`);
    expect(text).toContain('\nIMAGE_TAG=v2\n');
    expect(text).toContain(`\nREGISTRY=${registry.address}\n`);
    expect(text).toContain(`\nBERTH_UPSTREAMS=${join(stateDir(), 'upstreams')}\n`);
  });

  it("labels berth's replica with the config hash the flavour's own `config --hash` gives by hand", async () => {
    const bin = (flavour.name === 'v1' ? COMPOSE_V1 : COMPOSE_V2).bin;
    const byHand = await rigRunner.read([...bin, 'config', '--hash=web'], { cwd: product.repo.dir, env: operatorEnv() });
    const [web] = await runningContainers(product, 'web');
    expect(byHand.trim()).toBe(`web ${web?.labels['com.docker.compose.config-hash']}`);
  });

  it("runs the ledger's release and keeps the site up under load", async () => {
    const before = await ids();
    const bin = (flavour.name === 'v1' ? COMPOSE_V1 : COMPOSE_V2).bin;
    const load = startLoad(url, { concurrency: 2, ratePerSecond: 200, maxMs: 120_000, maxRequests: 100_000 });
    const byHand = await rigRunner.probe([...bin, 'up', '-d'], { cwd: product.repo.dir, env: operatorEnv(), timeoutMs: 120_000 });
    // Long enough for a recreated container to answer (or a crash-looping one to show).
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const report = await load.stop();
    const after = await ids();
    const recreated = Object.keys(before).filter((service) => after[service] !== before[service]);
    console.log(
      `hand-run ${bin.join(' ')} up -d (${flavour.name} ${flavour.version}): recreated [${recreated.join(', ')}], ` +
        `${report.requests} requests, ${report.failed} failed, longest gap ${report.longestGapMs} ms`,
    );
    expect(byHand.exitCode, byHand.stderr).toBe(0);
    const seen = JSON.stringify(report);
    expect(report.failed, seen).toBe(0);
    expect(Object.keys(report.bodies), seen).toEqual(['v2']);
    // Each flavour finds its own config hash (v2: and image id) on berth's replica, and the
    // proxy's mount from .env: nothing is recreated, and the upstream file still names web.
    expect(recreated).toEqual([]);
    const [webAfter] = await runningContainers(product, 'web');
    expect(parseUpstreams(readFileSync(join(stateDir(), 'upstreams', 'web.caddy'), 'utf8'))).toEqual([`${webAfter?.name}:8080`]);
    expect(Object.keys(after).sort()).toEqual(['proxy', 'web']);
    const release = readLedger(stateDir()).at(-1);
    const [web] = await runningContainers(product, 'web');
    expect(web?.imageId).toBe(release?.services.web?.id);
    expect(web?.image).toBe(`${product.repository('web')}:v2`);
    const [proxy] = await runningContainers(product, 'proxy');
    expect((await inspect(proxy?.id ?? '')).HostConfig.RestartPolicy.Name).toBe('unless-stopped');
  }, 300_000);

  it('leaves berth able to deploy the next release', async () => {
    const result = await deploy('v1');
    expect(result.exitCode, result.stderr).toBe(0);
    expect(readLedger(stateDir()).at(-1)).toMatchObject({ tag: 'v1', result: 'ok' });
    expect(readFileSync(join(product.repo.dir, '.env'), 'utf8')).toContain('\nIMAGE_TAG=v1\n');
    expect((await fetch(url, { signal: AbortSignal.timeout(5_000) }).then((r) => r.text())).trim()).toBe('v1');
  }, 300_000);

  it('writes the release a rollback makes current, and a hand-run up -d after it recreates nothing', async () => {
    const result = await product.berth([product.name, '--previous'], { script: 'rollback' });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(readLedger(stateDir()).at(-1)).toMatchObject({ tag: 'v2', kind: 'rollback', result: 'ok' });
    expect(readFileSync(join(product.repo.dir, '.env'), 'utf8')).toContain('\nIMAGE_TAG=v2\n');
    const before = await ids();
    const bin = (flavour.name === 'v1' ? COMPOSE_V1 : COMPOSE_V2).bin;
    const byHand = await rigRunner.probe([...bin, 'up', '-d'], { cwd: product.repo.dir, env: operatorEnv(), timeoutMs: 120_000 });
    expect(byHand.exitCode, byHand.stderr).toBe(0);
    expect(await ids()).toEqual(before);
    expect((await fetch(url, { signal: AbortSignal.timeout(5_000) }).then((r) => r.text())).trim()).toBe('v2');
  }, 300_000);
});

describe.skipIf(!engineAvailable)('a hand-run compose up -d behind the shared edge', () => {
  const prefix = usePrefix();
  const registry = useRegistry();
  let fixture: EdgeFixture;
  let product: FixtureProduct;
  let flavour: ComposeFlavour;

  const ids = async (p: FixtureProduct) => Object.fromEntries((await runningContainers(p)).map((c) => [c.service, c.id]));

  beforeAll(async () => {
    flavour = await detectCompose(rigRunner);
    fixture = await makeEdgeFixture({ prefix, registry: registry.address });
    product = await fixture.addProduct(`${prefix}-a`, 'a.test');
    await product.pushApp('web', 'v1');
    await product.pushApp('web', 'v2');
    const edge = await fixture.edge.berth([fixture.edge.name, '--tag', 'edge1']);
    expect(edge.exitCode, edge.stderr).toBe(0);
    for (const tag of ['v1', 'v2']) {
      const result = await product.berth([product.name, '--tag', tag]);
      expect(result.exitCode, result.stderr).toBe(0);
    }
  }, 300_000);
  afterAll(async () => {
    await fixture?.remove();
  });

  it("recreates nothing in the product's checkout or the edge's, so the routed name stays and the site up", async () => {
    const [web] = await runningContainers(product, 'web');
    // berth's replica holds the routed name: a container Compose made in its place would not.
    expect(web?.name).toBe(`${product.name}-web`);
    const before = { product: await ids(product), edge: await ids(fixture.edge) };
    const bin = (flavour.name === 'v1' ? COMPOSE_V1 : COMPOSE_V2).bin;
    const load = startLoad(`http://127.0.0.1:${await fixture.port()}/version`, {
      host: 'a.test',
      concurrency: 2,
      ratePerSecond: 200,
      maxMs: 120_000,
      maxRequests: 100_000,
    });
    const results = [];
    for (const dir of [product.repo.dir, fixture.edge.repo.dir]) {
      results.push(await rigRunner.probe([...bin, 'up', '-d'], { cwd: dir, env: operatorEnv(), timeoutMs: 120_000 }));
    }
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const report = await load.stop();
    console.log(
      `behind the edge, hand-run ${bin.join(' ')} up -d in the product's and the edge's checkout (${flavour.name}): ` +
        `${report.requests} requests, ${report.failed} failed, longest gap ${report.longestGapMs} ms`,
    );
    for (const result of results) expect(result.exitCode, result.stderr).toBe(0);
    expect({ product: await ids(product), edge: await ids(fixture.edge) }).toEqual(before);
    const seen = JSON.stringify(report);
    expect(report.failed, seen).toBe(0);
    expect(Object.keys(report.bodies), seen).toEqual(['v2']);
    const [after] = await runningContainers(product, 'web');
    expect(after?.name).toBe(`${product.name}-web`);
  }, 300_000);
});
