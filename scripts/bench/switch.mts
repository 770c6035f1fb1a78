#!/usr/bin/env node
// One HTTP app behind Caddy, switched v1 <-> v2 under the same bounded load, side by side in one run:
//   plain compose:  `docker pull` + `compose up -d --no-deps web` (recreate, stop-first), Caddy
//                   resolving `web` through Docker DNS with lb_try_duration 5s;
//   scale-to-two:   the docker-rollout technique on the same layout: `up --scale web=2
//                   --no-recreate`, wait until Docker says the new container is healthy, then
//                   stop and remove the old one;
//   berth:          `scripts/deploy.mts <product> --tag vN --json` (the real CLI), its switch being
//                   pull+compare+up+health+switch from its own durationsMs;
//   floor:          `docker pull` of a tag that is not local + `docker run -d` until Docker says
//                   healthy, with the load on berth's stack while nothing switches it (the baseline).
// Every switch really pulls: the target tag is removed locally before it (outside the timing).
// Each switch has a load loop of its own (2 clients on Caddy's published 127.0.0.1 port), and the
// techniques take turns round by round, so a busy machine slows them all alike. BENCH_RUNS rounds
// (default 5); medians unless the column says otherwise.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { composeUp, type ComposeProject } from '../../lib/commands/compose.mts';
import { dockerPsIds, dockerPull, dockerPush, dockerRm, dockerRmi, dockerStop, dockerTag } from '../../lib/commands/docker.mts';
import { checkEngine, listContainers } from '../../lib/engine/engine.mts';
import { detectCompose } from '../../lib/engine/compose.mts';
import { startLocalRegistry, type LocalRegistry } from '../../lib/dev/local-registry.mts';
import { createRunner } from '../../lib/core/runner.mts';
import { cleanupPrefix } from '../../test/rig/cleanup.mts';
import { publishedPort } from '../../test/rig/engine.mts';
import { makeFixtureProduct, proxyService, type FixtureProduct } from '../../test/rig/fixture-product.mts';
import { fixtureAppImage, fixtureCaddyImage } from '../../test/rig/images.mts';
import { teardownOnExit } from './support/teardown.mts';
import { LEAD_MS, loadTotals, median, round, SETTLE_MS, takeTurns, type Technique } from './support/turns.mts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const BERTH_SWITCH_STEPS = ['pull', 'compare', 'up', 'health', 'switch'];
const root = fileURLToPath(new URL('../../', import.meta.url));
const runner = createRunner();
await checkEngine(runner);
const flavour = await detectCompose(runner);

const prefix = `berthbench-${randomBytes(3).toString('hex')}`;
let product: FixtureProduct | undefined;
const owned: { work?: string; registry?: LocalRegistry } = {};
const teardown = teardownOnExit(`switch bench ${prefix}`, async () => {
  await cleanupPrefix(prefix, runner);
  await product?.remove();
  await owned.registry?.stop();
  if (owned.work) await rm(owned.work, { recursive: true, force: true });
});
const work = (owned.work = await mkdtemp(join(tmpdir(), `${prefix}-`)));
const registry = (owned.registry = await startLocalRegistry(runner));

async function push(source: string, ref: string): Promise<void> {
  await runner.run(dockerTag(source, ref));
  await runner.run(dockerPush(ref));
}

/** Removes the local tag so that the next pull really fetches it from the registry. */
const untag = (ref: string) => runner.run(dockerRmi([ref]));

async function waitDockerHealthy(id: string, deadlineMs = 30_000): Promise<void> {
  const until = performance.now() + deadlineMs;
  while (performance.now() < until) {
    const status = await runner.read(['docker', 'inspect', '--format', '{{if .State.Health}}{{.State.Health.Status}}{{end}}', id]);
    if (status === 'healthy') return;
    if (status === 'unhealthy') throw new Error(`${id} became unhealthy`);
    await sleep(20);
  }
  throw new Error(`${id} not healthy after ${deadlineMs} ms`);
}

async function waitServing(url: string, body: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      if (response.ok && (await response.text()).trim() === body) return;
    } catch {
      // not up yet
    }
    await sleep(100);
  }
  throw new Error(`${url} never answered ${body}`);
}

/** A compose project of its own: Caddy resolving `web` through Docker DNS, and the app. */
async function composeStack(name: string): Promise<{ project: ComposeProject; repository: string; url: string }> {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  const repository = `${registry.address}/${prefix}-${name}-web`;
  await writeFile(
    join(dir, 'compose.yaml'),
    [
      'services:',
      '  proxy:',
      `    image: \${REGISTRY}/${prefix}-${name}-proxy:caddy`,
      '    ports: ["127.0.0.1::80"]',
      '    volumes:',
      '      - ./Caddyfile:/etc/caddy/Caddyfile:ro',
      '  web:',
      `    image: \${REGISTRY}/${prefix}-${name}-web:\${IMAGE_TAG}`,
      '',
    ].join('\n'),
  );
  // No passive health settings: in Caddy 2.6.2 `fail_duration 0s` makes every upstream unavailable.
  await writeFile(join(dir, 'Caddyfile'), '{\n\tauto_https off\n}\n:80 {\n\treverse_proxy web:8080 {\n\t\tlb_try_duration 5s\n\t}\n}\n');
  await push((await fixtureCaddyImage()).tag, `${registry.address}/${prefix}-${name}-proxy:caddy`);
  for (const version of ['v1', 'v2']) await push((await fixtureAppImage(version)).tag, `${repository}:${version}`);
  const project = { flavour, name: `${prefix}-${name}`, directory: dir, files: [join(dir, 'compose.yaml')] };
  await runner.run(composeUp(project, [], { noDeps: false }), { env: composeEnv('v1') });
  const [proxy] = (await runner.read(dockerPsIds({ project: project.name, service: 'proxy' }))).split('\n').filter(Boolean);
  const url = `http://127.0.0.1:${await publishedPort(proxy ?? '', 80, runner)}/version`;
  await waitServing(url, 'v1');
  return { project, repository, url };
}

const composeEnv = (tag: string) => ({ IMAGE_TAG: tag, REGISTRY: registry.address });
const webIds = async (project: ComposeProject) =>
  (await runner.read(dockerPsIds({ project: project.name, service: 'web' }))).split('\n').filter(Boolean);

try {
  // Plain compose: recreate, stop-first.
  const plain = await composeStack('plain');
  // Scale to two, wait for Docker's healthy, remove the old one (docker-rollout polls every
  // second; this polls as fast as docker inspect answers, its best case).
  const scale = await composeStack('scale');

  // berth: the real CLI on a fixture product with its Caddy front.
  const proxy = proxyService(`${prefix}-berth`);
  product = await makeFixtureProduct({
    prefix: `${prefix}-berth`,
    registry: registry.address,
    services: {
      proxy: proxy.spec,
      web: { product: `health: { path: '/healthz', port: 8080, timeoutSeconds: 20 }, drainSeconds: 0.2` },
    },
    files: proxy.files,
    productExtra: `  smoke: [{ path: '/version', status: 200, contains: '{tag}' }],\n  monitorSeconds: 0.2,`,
  });
  const fixture = product;
  await fixture.pushProxy();
  for (const version of ['v1', 'v2']) await fixture.pushApp('web', version);
  const deploy = async (tag: string) => {
    const result = await runner.probe([process.execPath, join(root, 'scripts', 'deploy.mts'), fixture.name, '--tag', tag, '--json'], {
      env: { ...fixture.env, BERTH_WHO: 'bench', NO_COLOR: '1' },
      cwd: root,
    });
    if (result.exitCode !== 0) throw new Error(`deploy ${tag} exited ${result.exitCode}:\n${result.stderr}`);
    return { ...(JSON.parse(result.stdout) as { durationsMs: Record<string, number> }), wallMs: result.ms };
  };
  await deploy('v1');
  const [caddy] = (await listContainers(runner, fixture.name, 'proxy')).filter((c) => c.running);
  const berthUrl = `http://127.0.0.1:${await publishedPort(caddy?.id ?? '', 80, runner)}/version`;
  await waitServing(berthUrl, 'v1');
  const berthTotals: number[] = [];
  const berthCli: number[] = [];
  const berthSteps: Record<string, number[]> = {};

  const floorRepository = `${registry.address}/${prefix}-floor-web`;
  for (const version of ['v1', 'v2']) await push((await fixtureAppImage(version)).tag, `${floorRepository}:${version}`);
  const floorPull: number[] = [];
  const floorRun: number[] = [];
  let floors = 0;

  const techniques: Technique[] = [
    {
      name: 'plain compose up -d (recreate)',
      url: plain.url,
      runs: [],
      async run(to) {
        await untag(`${plain.repository}:${to}`);
        const started = performance.now();
        await runner.run(dockerPull(`${plain.repository}:${to}`));
        await runner.run(composeUp(plain.project, ['web'], { noDeps: true }), { env: composeEnv(to) });
        return performance.now() - started;
      },
    },
    {
      name: 'scale to two, rm old (rollout)',
      url: scale.url,
      runs: [],
      async run(to) {
        await untag(`${scale.repository}:${to}`);
        const old = await webIds(scale.project);
        const started = performance.now();
        await runner.run(dockerPull(`${scale.repository}:${to}`));
        await runner.run(composeUp(scale.project, ['web'], { noDeps: true, noRecreate: true, scale: { web: 2 } }), { env: composeEnv(to) });
        const fresh = (await webIds(scale.project)).filter((id) => !old.includes(id));
        if (fresh.length !== 1) throw new Error(`scale-to-two: expected one new container, found ${fresh.length}`);
        await waitDockerHealthy(fresh[0] as string);
        await runner.run(dockerStop(old));
        await runner.run(dockerRm(old));
        return performance.now() - started;
      },
    },
    {
      name: 'berth switch (deploy CLI)',
      url: berthUrl,
      runs: [],
      async run(to) {
        await untag(`${fixture.repository('web')}:${to}`);
        const { durationsMs, wallMs } = await deploy(to);
        const missing = BERTH_SWITCH_STEPS.filter((step) => durationsMs[step] === undefined);
        if (missing.length) throw new Error(`deploy ${to} reported no ${missing.join(', ')} time: it did not switch`);
        for (const [step, ms] of Object.entries(durationsMs)) (berthSteps[step] ??= []).push(ms);
        berthTotals.push(durationsMs.total ?? Number.NaN);
        berthCli.push(wallMs);
        return BERTH_SWITCH_STEPS.reduce((sum, step) => sum + (durationsMs[step] as number), 0);
      },
    },
    {
      // The load runs on berth's stack while nothing switches it: the baseline beside the floor.
      name: 'floor: pull + run until healthy',
      url: berthUrl,
      runs: [],
      async run(to) {
        const ref = `${floorRepository}:${to}`;
        const name = `${prefix}-floor-${floors++}`;
        await untag(ref);
        const started = performance.now();
        await runner.run(dockerPull(ref));
        const pulled = performance.now();
        await runner.run(['docker', 'run', '--detach', '--name', name, ref]);
        await waitDockerHealthy(name);
        const healthy = performance.now();
        await runner.run(dockerRm([name], { force: true }));
        floorPull.push(pulled - started);
        floorRun.push(healthy - pulled);
        return healthy - started;
      },
    },
  ];

  // The floor's target tag comes from the registry like the others'; its load sees berth's idle stack.
  await takeTurns(techniques, RUNS);

  const summary = (technique: Technique) => ({
    ...loadTotals(technique),
    mixedMs: technique.runs.map((r) => r.mixedMs),
  });
  const [plainT, scaleT, berthT, floorT] = techniques as [Technique, Technique, Technique, Technique];
  const berth = summary(berthT);
  const floor = summary(floorT).wallMs;
  const ratio = berth.wallMs / floor;
  const header = ['technique', 'requests', 'failed', 'retried', 'gap ms', 'p99 ms', 'switch ms', 'first new ms', 'mixed ms'];
  const rows = techniques.map((technique) => {
    const s = summary(technique);
    const switches = technique !== floorT;
    return [
      technique.name,
      String(s.requests),
      String(s.failed),
      String(s.retried),
      String(s.gapMs),
      String(s.p99Ms),
      round(s.wallMs),
      switches ? round(s.firstNewMs) : '-',
      switches ? `${round(median(s.mixedMs))} (max ${round(Math.max(...s.mixedMs))})` : '-',
    ];
  });
  const widths = header.map((_, c) => Math.max(...[header, ...rows].map((r) => (r[c] as string).length)));
  const format = (r: string[]) =>
    r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] as number) : cell.padStart(widths[c] as number))).join('  ');
  const met = (ok: boolean) => (ok ? 'met' : 'NOT met');
  const runsOf = (technique: Technique) => technique.runs.map((r) => Math.round(r.wallMs)).join(', ');
  const errors = techniques.flatMap((t) => summary(t).errors.map((e) => `${t.name}: ${e}`));
  const lines = [
    `switch bench: one busybox HTTP app behind Caddy, v1 <-> v2, ${RUNS} rounds (one switch per technique each, in turn); compose ${flavour.name} ${flavour.version}`,
    `  load: 2 clients on Caddy's 127.0.0.1 port, one loop per switch, from ${LEAD_MS} ms before it to ${SETTLE_MS} ms after it; requests/failed/retried`,
    `  are summed over the runs, gap (longest time without a successful answer) and p99 are the worst run's; switch = median wall time`,
    `  (berth: pull+compare+up+health+switch from its durationsMs); first new = median time from the switch's start (berth: the CLI's start,`,
    `  so node start, preflight and planning count) to the first new-version answer; mixed = time both versions answered after the switch`,
    `  started (median, max). The floor row's load columns are the baseline: the same load on berth's stack while nothing switches it.`,
    '',
    format(header),
    ...rows.map(format),
    '',
    `  switch runs (ms): plain ${runsOf(plainT)}; scale ${runsOf(scaleT)}; berth ${runsOf(berthT)}; floor ${runsOf(floorT)}`,
    `  berth steps (median ms)        ${Object.entries(berthSteps)
      .filter(([step]) => step !== 'total')
      .map(([step, values]) => `${step} ${round(median(values))}`)
      .join(', ')}`,
    `  berth whole deploy (median)    ${round(median(berthTotals))} ms in durationsMs.total, ${round(median(berthCli))} ms CLI wall`,
    `  floor (median ms)              pull ${round(median(floorPull))} + run until healthy ${round(median(floorRun))}`,
    `  berth switch / floor           ${ratio.toFixed(2)}x`,
    '',
    `  target 0 failed requests       berth ${berth.failed}: ${met(berth.failed === 0)}`,
    `  target gap <= 100 ms           berth ${berth.gapMs} ms: ${met(berth.gapMs <= 100)}`,
    `  target switch <= 1.0x floor    berth ${ratio.toFixed(2)}x: ${met(ratio <= 1)}`,
    ...(errors.length ? ['', '  first load errors:', ...errors.slice(0, 10).map((e) => `    ${e}`)] : []),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await teardown.run();
}
