#!/usr/bin/env node
// Behind the shared edge Caddy (one Caddy in a compose project of its own, products on its external
// network, routed by host), the same app switched v1 <-> v2 under the same paced load:
//   plain compose:  `docker pull` + `compose up -d --no-deps web` (recreate, stop-first), the edge
//                   routing plain.test to the container's name (what the old deploy scripts did);
//   berth:          `scripts/deploy.mts <product> --tag vN` (the real CLI) routing berth.test.
// Each switch runs under two load loops on the edge's published 127.0.0.1 port: a client that
// retries a request an idle-connection close cut off (as browsers and curl do), and one that never
// retries (as many scripts and SDKs), whose failures are what a reload costs such a client.
// Techniques take turns round by round. BENCH_RUNS rounds (default 5); BENCH_RATE requests a
// second per loop (default 200, about the steady load measured on the real VM).
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { caddyReload } from '../../lib/commands/caddy.mts';
import { composeUp, type ComposeProject } from '../../lib/commands/compose.mts';
import { dockerPull, dockerPush, dockerRmi, dockerTag } from '../../lib/commands/docker.mts';
import { checkEngine, listContainers } from '../../lib/engine/engine.mts';
import { detectCompose } from '../../lib/engine/compose.mts';
import { startLoad, type LoadReport } from '../../lib/dev/load-loop.mts';
import { startLocalRegistry, type LocalRegistry } from '../../lib/dev/local-registry.mts';
import { httpGet } from '../../lib/deploy/proxy.mts';
import { createRunner } from '../../lib/core/runner.mts';
import { cleanupPrefix } from '../../test/rig/cleanup.mts';
import { makeEdgeFixture, type EdgeFixture } from '../../test/rig/edge.mts';
import { runningContainers } from '../../test/rig/fixture-product.mts';
import { fixtureAppImage } from '../../test/rig/images.mts';
import { teardownOnExit } from './support/teardown.mts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const RATE = Number(process.env.BENCH_RATE ?? 200);
const LEAD_MS = 300;
const SETTLE_MS = 800;
const root = fileURLToPath(new URL('../../', import.meta.url));
const runner = createRunner();
await checkEngine(runner);
const flavour = await detectCompose(runner);

const prefix = `berthbench-${randomBytes(3).toString('hex')}`;
let fixture: EdgeFixture | undefined;
const owned: { registry?: LocalRegistry } = {};
const teardown = teardownOnExit(`edge bench ${prefix}`, async () => {
  await fixture?.remove();
  await cleanupPrefix(prefix, runner);
  await owned.registry?.stop();
});
const registry = (owned.registry = await startLocalRegistry(runner));

const versionAt = (i: number) => (i % 2 === 0 ? 'v2' : 'v1');
const median = (xs: number[]) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

interface Run {
  retrying: LoadReport;
  neverRetrying: LoadReport;
  wallMs: number;
}

async function underLoad(url: string, host: string, work: () => Promise<number>): Promise<Run> {
  const common = { host, concurrency: 2, ratePerSecond: RATE, maxMs: 120_000, maxRequests: 200_000 };
  const retrying = startLoad(url, common);
  const neverRetrying = startLoad(url, { ...common, retry: false });
  let reports: Pick<Run, 'retrying' | 'neverRetrying'> | undefined;
  let wallMs = Number.NaN;
  try {
    await sleep(LEAD_MS);
    wallMs = await work();
    await sleep(SETTLE_MS);
  } finally {
    const [a, b] = await Promise.all([retrying.stop(), neverRetrying.stop()]);
    reports = { retrying: a, neverRetrying: b };
  }
  return { ...(reports as Pick<Run, 'retrying' | 'neverRetrying'>), wallMs };
}

async function push(source: string, ref: string): Promise<void> {
  await runner.run(dockerTag(source, ref));
  await runner.run(dockerPush(ref));
}

async function waitServing(url: string, host: string, body: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const answer = await httpGet(url, host, 1_000);
    if (answer.status === 200 && answer.body.trim() === body) return;
    await sleep(100);
  }
  throw new Error(`${host} never answered ${body}`);
}

try {
  fixture = await makeEdgeFixture({ prefix, registry: registry.address });
  const edge = fixture;
  const deployed = await edge.edge.berth([edge.name, '--tag', 'edge']);
  if (deployed.exitCode !== 0) throw new Error(`deploying the edge failed:\n${deployed.stderr}`);
  const url = `http://127.0.0.1:${await edge.port()}/version`;
  const [caddy] = await runningContainers(edge.edge, 'proxy');

  // berth: a product routed through the edge at berth.test.
  const product = await edge.addProduct(`${prefix}-b`, 'berth.test', { productExtra: `  monitorSeconds: 0.2,` });
  for (const version of ['v1', 'v2']) await product.pushApp('web', version);
  const deploy = async (tag: string) => {
    const started = performance.now();
    const result = await runner.probe([process.execPath, join(root, 'scripts', 'deploy.mts'), product.name, '--tag', tag], {
      env: { ...product.env, BERTH_WHO: 'bench', NO_COLOR: '1' },
      cwd: root,
    });
    if (result.exitCode !== 0) throw new Error(`deploy ${tag} exited ${result.exitCode}:\n${result.stderr}`);
    return performance.now() - started;
  };
  await deploy('v1');
  await waitServing(url, 'berth.test', 'v1');

  // plain compose: the same app, on the edge network, routed at plain.test by its container name.
  const plainDir = edge.sitesDir.replace(/edge$/, 'plain');
  await runner.run(['mkdir', '-p', plainDir]);
  const repository = `${registry.address}/${prefix}-plain-web`;
  await writeFile(
    join(plainDir, 'compose.yaml'),
    [
      'services:',
      '  web:',
      `    image: ${repository}:\${IMAGE_TAG}`,
      '    networks: [edge]',
      'networks:',
      `  edge: { external: true, name: ${edge.network} }`,
      '',
    ].join('\n'),
  );
  for (const version of ['v1', 'v2']) await push((await fixtureAppImage(version)).tag, `${repository}:${version}`);
  const plain: ComposeProject = { flavour, name: `${prefix}-plain`, directory: plainDir, files: [join(plainDir, 'compose.yaml')] };
  await runner.run(composeUp(plain, ['web']), { env: { IMAGE_TAG: 'v1' } });
  const [plainWeb] = (await listContainers(runner, plain.name, 'web')).filter((c) => c.running);
  await writeFile(
    join(edge.sitesDir, 'zz-plain.caddy'),
    `http://plain.test {\n\treverse_proxy ${plainWeb?.name}:8080 {\n\t\tlb_try_duration 5s\n\t}\n}\n`,
  );
  await runner.run(caddyReload(caddy?.id ?? ''));
  await waitServing(url, 'plain.test', 'v1');

  const techniques = [
    {
      name: 'plain compose up -d (recreate)',
      host: 'plain.test',
      runs: [] as Run[],
      async run(to: string) {
        await runner.run(dockerRmi([`${repository}:${to}`]));
        const started = performance.now();
        await runner.run(dockerPull(`${repository}:${to}`));
        await runner.run(composeUp(plain, ['web'], { noDeps: true }), { env: { IMAGE_TAG: to } });
        return performance.now() - started;
      },
    },
    {
      name: 'berth deploy (switch at the edge)',
      host: 'berth.test',
      runs: [] as Run[],
      async run(to: string) {
        await runner.run(dockerRmi([`${product.repository('web')}:${to}`]));
        return deploy(to);
      },
    },
  ];
  for (let round = 0; round < RUNS; round++) {
    const order = round % 2 === 0 ? techniques : [...techniques].reverse();
    for (const technique of order) {
      const to = versionAt(technique.runs.length);
      technique.runs.push(await underLoad(url, technique.host, () => technique.run(to)));
    }
  }

  const summary = (runs: Run[]) => {
    const sum = (pick: (r: Run) => number) => runs.reduce((total, r) => total + pick(r), 0);
    return {
      requests: sum((r) => r.retrying.requests + r.neverRetrying.requests),
      failed: sum((r) => r.retrying.failed),
      retried: sum((r) => r.retrying.retried),
      neverFailed: sum((r) => r.neverRetrying.failed),
      gapMs: Math.max(...runs.map((r) => Math.max(r.retrying.longestGapMs, r.neverRetrying.longestGapMs))),
      medianGapMs: median(runs.map((r) => r.retrying.longestGapMs)),
      wallMs: median(runs.map((r) => r.wallMs)),
    };
  };
  const [plainT, berthT] = techniques.map((t) => summary(t.runs)) as [ReturnType<typeof summary>, ReturnType<typeof summary>];
  const header = [
    'technique',
    'requests',
    'failed (retrying client)',
    'retried',
    'failed (never-retrying client)',
    'gap ms (max)',
    'gap ms (median)',
    'wall ms',
  ];
  const rows = techniques.map((t, i) => {
    const s = i === 0 ? plainT : berthT;
    return [t.name, s.requests, s.failed, s.retried, s.neverFailed, s.gapMs, Math.round(s.medianGapMs), Math.round(s.wallMs)].map(String);
  });
  const widths = header.map((_, c) => Math.max(...[header, ...rows].map((r) => (r[c] as string).length)));
  const format = (r: string[]) => r.map((cell, c) => cell.padEnd(widths[c] as number)).join('  ');
  console.log(`edge: ${RUNS} switches per technique behind one shared Caddy, ${RATE} req/s per client, Compose ${flavour.name}`);
  console.log(format(header));
  for (const row of rows) console.log(format(row));
  console.log(
    `ratios: longest gap berth/plain ${(berthT.gapMs / plainT.gapMs).toFixed(3)}x; failed requests berth ${berthT.failed} vs plain ${plainT.failed} (retrying client), ${berthT.neverFailed} vs ${plainT.neverFailed} (never-retrying client); wall time berth/plain ${(berthT.wallMs / plainT.wallMs).toFixed(2)}x`,
  );
  console.log(
    `a never-retrying client lost ${berthT.neverFailed} request(s) in ${RUNS} berth switches: a name handover changes nothing Caddy reads, so no reload closes a connection`,
  );
} finally {
  await teardown.run();
}
