#!/usr/bin/env node
// One HTTP app behind its own Caddy, switched v1 <-> v2 under the same paced load, four ways side
// by side in one run:
//   plain stack deploy: `docker stack deploy` of a hand-written stack file (update_config order
//                   start-first, failure_action rollback, the same 3 s monitor berth gives Swarm),
//                   timed until Swarm says the update completed (polled as often as berth does);
//   berth on Swarm:   `scripts/deploy.mts <product> --tag vN --json` with BERTH_ENGINE=swarm, its
//                   Caddy importing berth's upstream file: berth switches the front door itself
//                   (lib/deploy/swarm/door.mts: old tasks pinned by address, then the new release's alias);
//   berth on Compose: the same CLI on the default engine, its Caddy switched by the upstream handover;
//   task addresses:   a prototype of berth switching Swarm's Caddy itself, as on one VM: each version
//                   a service of its own (two slots), Caddy proxying to the running task's overlay
//                   address read from a file it imports, the switch a rewrite of that file and a
//                   `caddy reload` once the new task is healthy, then the old slot's service removed
//                   (support/task-upstreams.mts); timed until the reload returned, and until the old
//                   slot's container was gone.
// The swarm stacks run on a one-node swarm of the rig's second engine, started by this bench and
// stopped by it (the shared engine never joins a swarm): each Caddy publishes in host mode; the
// plain one resolves `web` on every dial (endpoint_mode dnsrr: this kernel has no IPVS). There the
// old and new tasks both take requests for a while (start-first, then the old task is stopped and
// leaves DNS): the first-new, switched and mixed columns show how long,
// against berth's handover on Compose and Caddy's reload to task addresses. Every target image is on its engine before the first round: the
// load measures the switch, not a pull. Each switch has a load loop of its own and the techniques
// take turns round by round. BENCH_RUNS rounds (default 3); BENCH_RATE requests a second (default 200).
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { caddyReload } from '../../lib/commands/caddy.mts';
import { dockerInspect, dockerPull, dockerPush, dockerTag } from '../../lib/commands/docker.mts';
import {
  serviceInspect,
  servicePs,
  stackDeploy,
  stackNetworkCreate,
  stackServiceName,
  taskContainersHere,
} from '../../lib/commands/stack.mts';
import { checkEngine, listContainers } from '../../lib/engine/engine.mts';
import { detectCompose } from '../../lib/engine/compose.mts';
import { startLocalRegistry, type LocalRegistry } from '../../lib/dev/local-registry.mts';
import { updateProgress, type SwarmService } from '../../lib/deploy/swarm/updates.mts';
import { SWARM_MONITOR_SECONDS } from '../../lib/deploy/steps/swarm.mts';
import { createRunner, type Runner } from '../../lib/core/runner.mts';
import { cleanupPrefix } from '../../test/rig/cleanup.mts';
import { publishedPort } from '../../test/rig/engine.mts';
import { makeFixtureProduct, proxyService, type FixtureProduct } from '../../test/rig/fixture-product.mts';
import { fixtureAppImage, fixtureCaddyImage } from '../../test/rig/images.mts';
import { leaveSwarmAndStop, startSecondEngine, type SecondEngine } from '../../test/rig/second-engine.mts';
import { teardownOnExit } from './support/teardown.mts';
import { LEAD_MS, loadTotals, median, round, SETTLE_MS, takeTurns, type Run, type Technique } from './support/turns.mts';
import {
  containerHealth,
  otherSlot,
  renderTasksCaddyfile,
  renderUpstreams,
  runningTaskId,
  serviceContainersHere,
  serviceRemove,
  slotServiceCreate,
  slotServiceName,
  taskAttachment,
  taskInspect,
  type Slot,
  type TaskAttachment,
} from './support/task-upstreams.mts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const RATE = Number(process.env.BENCH_RATE ?? 200);
/** How often the plain technique asks Swarm where its update stands: what berth's follow step does. */
const POLL_MS = 100;
const TRY_DURATION = '5s';
const CADDYFILE = `{\n\tauto_https off\n}\n:80 {\n\treverse_proxy web:8080 {\n\t\tlb_try_duration ${TRY_DURATION}\n\t}\n}\n`;
/** berth on Swarm: the upstream file berth writes (as on one VM), so berth switches the front door. */
const DOOR_CADDYFILE = `{\n\tauto_https off\n}\n:80 {\n\treverse_proxy {\n\t\timport /etc/caddy/upstreams/web.caddy\n\t\tlb_try_duration ${TRY_DURATION}\n\t\tlb_try_interval 20ms\n\t}\n}\n`;
/** Where the task-address technique's Caddy finds the file a switch rewrites (a bind-mounted
 *  directory, not a file: a file mount would keep the inode the rename replaced). */
const UPSTREAMS_DIR = '/etc/caddy/upstreams';
const UPSTREAMS_FILE = 'upstreams.caddy';
const root = fileURLToPath(new URL('../../', import.meta.url));
const runner = createRunner();
await checkEngine(runner);
const flavour = await detectCompose(runner);
// The fixture Caddy image carries this host's binary: reload behaviour is this version's.
const caddyVersion = (await runner.read(['caddy', 'version'])).split(/\s+/)[0];

const prefix = `berthbench-${randomBytes(3).toString('hex')}`;
/** The Linux name of this swarm's gateway bridge: see where it is made. */
const gatewayBridge = `bgw${prefix.slice(-6)}`;
const owned: { work?: string; registry?: LocalRegistry; vm?: SecondEngine; products: FixtureProduct[] } = { products: [] };
const teardown = teardownOnExit(`swarm bench ${prefix}`, async () => {
  const vm = owned.vm;
  if (vm) await leaveSwarmAndStop(vm);
  // Its network is gone with the swarm; the interface too, unless that removal failed.
  if (vm) await runner.probe(['ip', 'link', 'delete', gatewayBridge]);
  await cleanupPrefix(prefix, runner);
  for (const product of owned.products) await product.remove();
  await owned.registry?.stop();
  if (owned.work) await rm(owned.work, { recursive: true, force: true });
});

async function push(source: string, ref: string): Promise<void> {
  await runner.run(dockerTag(source, ref));
  await runner.run(dockerPush(ref));
}

async function waitServing(url: string, body: string, deadlineMs = 90_000): Promise<void> {
  const until = performance.now() + deadlineMs;
  let last = '';
  while (performance.now() < until) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      last = (await response.text()).trim();
      if (response.ok && last === body) return;
    } catch (error) {
      last = String(error);
    }
    await sleep(200);
  }
  throw new Error(`${url} never answered ${body} (last: ${last})`);
}

/**
 * A port free on 127.0.0.1 right now, as the kernel picks one (at random in its ephemeral range).
 * Each Caddy publishes on one of these rather than on a port its engine picks: every second engine
 * on this machine (another session's tests start theirs) hands out 32768, 32769, ... from its own
 * count (seen: another engine's docker-proxy on 32768, the port this bench's first Caddy was given).
 * A port taken in between fails the task visibly instead of leaving two engines wanting one port.
 */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no free port on 127.0.0.1');
  return address.port;
}

/** Where a stack's Caddy task publishes port 80 on the second engine (host mode, on a port of freePort). */
async function swarmFrontDoor(vm: SecondEngine, stack: string): Promise<string> {
  const until = performance.now() + 90_000;
  for (;;) {
    const filter = `label=com.docker.swarm.service.name=${stackServiceName(stack, 'proxy')}`;
    const [id] = (await vm.runner.read(['docker', 'ps', '--quiet', '--filter', filter, '--filter', 'status=running']))
      .split('\n')
      .filter(Boolean);
    if (id) return `http://127.0.0.1:${await publishedPort(id, 80, vm.runner)}/version`;
    if (performance.now() > until) throw new Error(`${stack}: no running Caddy task after 90 s`);
    await sleep(500);
  }
}

/** Follows one service's rolling update to its end, as berth's follow step does. */
async function waitUpdated(on: Runner, service: string, since: number): Promise<void> {
  const until = performance.now() + 120_000;
  for (;;) {
    const [inspected] = JSON.parse(await on.read(serviceInspect([service]))) as SwarmService[];
    const progress = inspected ? updateProgress(inspected, since) : undefined;
    if (progress?.state === 'completed') return;
    if (progress && progress.state !== 'waiting') throw new Error(`${service}: update ${progress.state}: ${progress.detail}`);
    if (performance.now() > until) throw new Error(`${service}: update not completed after 120 s (${JSON.stringify(progress)})`);
    await sleep(POLL_MS);
  }
}

try {
  const work = (owned.work = await mkdtemp(join(tmpdir(), `${prefix}-`)));
  const registry = (owned.registry = await startLocalRegistry(runner));
  const vm = (owned.vm = await startSecondEngine());
  // Overlay subnets from inside the second engine's own 10.N/16, beside its bridge pools.
  const address = (await vm.runner.read(['ip', '-4', '-o', 'addr', 'show', 'dev', vm.bridge])).match(/inet 10\.(\d+)\./)?.[1];
  if (!address) throw new Error(`no 10.N address on ${vm.bridge}`);
  // Swarm's docker_gwbridge, made before `swarm init` so that its Linux interface has a name of
  // this bench's: by default every engine's is "docker_gwbridge", one interface on this host, and
  // another session's second engine (its swarm test) starting, leaving or leaving one behind took
  // it over (measured: this bench's host-mode ports then led off the machine, answered 403
  // "resolve_deny: denied destination", and a berth smoke check failed on that 403).
  await vm.runner.run([
    'docker',
    'network',
    'create',
    '--driver',
    'bridge',
    '--opt',
    `com.docker.network.bridge.name=${gatewayBridge}`,
    '--opt',
    'com.docker.network.bridge.enable_icc=false',
    '--opt',
    'com.docker.network.bridge.enable_ip_masquerade=true',
    'docker_gwbridge',
  ]);
  await vm.runner.run(['docker', 'swarm', 'init', '--advertise-addr', '127.0.0.1', '--default-addr-pool', `10.${address}.64.0/18`]);

  // Plain: a stack file as one writes it by hand for a zero-downtime update.
  const plainStack = `${prefix}-plain`;
  const plainRepository = `${registry.address}/${plainStack}-web`;
  const plainProxy = `${registry.address}/${plainStack}-proxy:caddy`;
  await push((await fixtureCaddyImage()).tag, plainProxy);
  for (const version of ['v1', 'v2']) await push((await fixtureAppImage(version)).tag, `${plainRepository}:${version}`);
  await writeFile(join(work, 'Caddyfile'), CADDYFILE);
  const plainFile = join(work, 'stack.yaml');
  await writeFile(
    plainFile,
    [
      "version: '3.9'",
      'services:',
      '  proxy:',
      `    image: ${plainProxy}`,
      `    ports: [{ target: 80, published: ${await freePort()}, mode: host }]`,
      `    volumes: ['${join(work, 'Caddyfile')}:/etc/caddy/Caddyfile:ro']`,
      '    deploy: { endpoint_mode: dnsrr }',
      '  web:',
      `    image: ${plainRepository}:\${IMAGE_TAG}`,
      '    deploy:',
      '      endpoint_mode: dnsrr',
      `      update_config: { parallelism: 1, order: start-first, failure_action: rollback, monitor: ${SWARM_MONITOR_SECONDS}s }`,
      '',
    ].join('\n'),
  );
  const plainDeploy = (tag: string) => vm.runner.run(stackDeploy(plainFile, plainStack, { detachFlag: true }), { env: { IMAGE_TAG: tag } });
  for (const version of ['v1', 'v2']) await vm.runner.run(dockerPull(`${plainRepository}:${version}`));
  await plainDeploy('v1');
  const plainUrl = await swarmFrontDoor(vm, plainStack);
  await waitServing(plainUrl, 'v1');

  // Task addresses: Caddy as a service of its own stack, the app one service per slot on the
  // stack's overlay (made first: the first slot's task is up before Caddy, whose file names it).
  const tasksStack = `${prefix}-tasks`;
  const tasksNetwork = `${tasksStack}_net`;
  const tasksRepository = `${registry.address}/${tasksStack}-web`;
  const tasksProxy = `${registry.address}/${tasksStack}-proxy:caddy`;
  await push((await fixtureCaddyImage()).tag, tasksProxy);
  for (const version of ['v1', 'v2']) await push((await fixtureAppImage(version)).tag, `${tasksRepository}:${version}`);
  for (const version of ['v1', 'v2']) await vm.runner.run(dockerPull(`${tasksRepository}:${version}`));
  const tasksDir = join(work, 'tasks');
  await mkdir(join(tasksDir, 'upstreams'), { recursive: true });
  await writeFile(join(tasksDir, 'Caddyfile'), renderTasksCaddyfile(`${UPSTREAMS_DIR}/${UPSTREAMS_FILE}`));
  /** Written whole beside the old file, then renamed over it: Caddy never reads half a file. */
  const writeUpstreams = async (address: string) => {
    const file = join(tasksDir, 'upstreams', UPSTREAMS_FILE);
    await writeFile(`${file}.next`, renderUpstreams([address], 8080, TRY_DURATION));
    await rename(`${file}.next`, file);
  };
  /** Creates a slot's service and follows its task until it runs, healthy, with an address. */
  const startSlot = async (slot: Slot, version: string): Promise<TaskAttachment> => {
    const name = slotServiceName(tasksStack, slot);
    await vm.runner.run(slotServiceCreate({ name, image: `${tasksRepository}:${version}`, network: tasksNetwork, stack: tasksStack }));
    const until = performance.now() + 120_000;
    let seen = 'no task yet';
    for (;;) {
      const task = runningTaskId(await vm.runner.read(servicePs(name, { running: true })));
      if (task) {
        const attachment = taskAttachment(await vm.runner.read(taskInspect(task)), tasksNetwork);
        seen = containerHealth(await vm.runner.read(dockerInspect([attachment.containerId])));
        if (seen === 'healthy') return attachment;
      }
      if (performance.now() > until) throw new Error(`${name}: no healthy running task after 120 s (${seen})`);
      await sleep(POLL_MS);
    }
  };
  /** Until Swarm has stopped the old slot's container (its `stopped` is called then), and then
   *  removed it: its service is gone for good. */
  const waitGone = async (service: string, stopped: () => void) => {
    const until = performance.now() + 120_000;
    for (const all of [false, true]) {
      while ((await vm.runner.read(serviceContainersHere(service, { all }))).trim()) {
        if (performance.now() > until) throw new Error(`${service}: container still there 120 s after service rm`);
        await sleep(POLL_MS);
      }
      if (!all) stopped();
    }
  };
  await vm.runner.run(stackNetworkCreate(tasksNetwork, tasksStack));
  let tasksSlot: Slot = 'a';
  await writeUpstreams((await startSlot(tasksSlot, 'v1')).address);
  const tasksFile = join(tasksDir, 'stack.yaml');
  await writeFile(
    tasksFile,
    [
      "version: '3.9'",
      'services:',
      '  proxy:',
      `    image: ${tasksProxy}`,
      `    ports: [{ target: 80, published: ${await freePort()}, mode: host }]`,
      `    volumes: ['${join(tasksDir, 'Caddyfile')}:/etc/caddy/Caddyfile:ro', '${join(tasksDir, 'upstreams')}:${UPSTREAMS_DIR}:ro']`,
      '    networks: [net]',
      '    deploy: { endpoint_mode: dnsrr }',
      'networks:',
      `  net: { external: true, name: ${tasksNetwork} }`,
      '',
    ].join('\n'),
  );
  await vm.runner.run(stackDeploy(tasksFile, tasksStack, { detachFlag: true }));
  const tasksUrl = await swarmFrontDoor(vm, tasksStack);
  await waitServing(tasksUrl, 'v1');
  /** Median ms from each task-address switch's start until the old slot's container was gone. */
  const tasksGoneMs: number[] = [];
  /** The same, until it was stopped (no longer running). */
  const tasksStoppedMs: number[] = [];

  // berth on Swarm: the layout of the swarm integration test.
  const swarmProduct = await makeFixtureProduct({
    prefix: `${prefix}-swarm`,
    registry: registry.address,
    services: {
      proxy: {
        kind: 'proxy',
        image: `\${REGISTRY}/${prefix}-swarm-proxy:caddy`,
        compose: [
          `ports: [{ target: 80, published: ${await freePort()}, mode: host }]`,
          'volumes: ["./Caddyfile:/etc/caddy/Caddyfile:ro", "${BERTH_UPSTREAMS}:/etc/caddy/upstreams:ro"]',
        ],
      },
      web: { product: `health: { path: '/healthz', port: 8080 }` },
    },
    files: { Caddyfile: DOOR_CADDYFILE },
    productExtra: `  smoke: [{ path: '/version', status: 200, contains: '{tag}' }],\n  monitorSeconds: 0.2,`,
  });
  owned.products.push(swarmProduct);

  // berth on Compose: the switch bench's product, on the default engine.
  const proxy = proxyService(`${prefix}-compose`);
  const composeProduct = await makeFixtureProduct({
    prefix: `${prefix}-compose`,
    registry: registry.address,
    services: {
      proxy: proxy.spec,
      web: { product: `health: { path: '/healthz', port: 8080, timeoutSeconds: 20 }, drainSeconds: 0.2` },
    },
    files: proxy.files,
    productExtra: `  smoke: [{ path: '/version', status: 200, contains: '{tag}' }],\n  monitorSeconds: 0.2,`,
  });
  owned.products.push(composeProduct);

  // berth's own step times (durationsMs), per engine, of the switches only.
  const steps: Record<'swarm' | 'compose', Record<string, number[]>> = { swarm: {}, compose: {} };
  const deploy = async (product: FixtureProduct, engine: 'swarm' | 'compose', tag: string) => {
    const env = { ...product.env, BERTH_WHO: 'bench', NO_COLOR: '1', BERTH_ENGINE: engine, ...(engine === 'swarm' ? vm.env : {}) };
    const result = await runner.probe([process.execPath, join(root, 'scripts', 'deploy.mts'), product.name, '--tag', tag, '--json'], {
      env,
      cwd: root,
    });
    if (result.exitCode !== 0) throw new Error(`berth on ${engine}: deploy ${tag} exited ${result.exitCode}:\n${result.stderr}`);
    const { durationsMs } = JSON.parse(result.stdout) as { durationsMs: Record<string, number> };
    for (const [step, ms] of Object.entries(durationsMs)) (steps[engine][step] ??= []).push(ms);
    return result.ms;
  };
  for (const product of [swarmProduct, composeProduct]) {
    await product.pushProxy();
    for (const version of ['v1', 'v2']) await product.pushApp('web', version);
  }
  for (const version of ['v1', 'v2']) await vm.runner.run(dockerPull(`${swarmProduct.repository('web')}:${version}`));
  await deploy(swarmProduct, 'swarm', 'v1');
  const swarmUrl = await swarmFrontDoor(vm, swarmProduct.name);
  await waitServing(swarmUrl, 'v1');
  await deploy(composeProduct, 'compose', 'v1');
  const [caddy] = (await listContainers(runner, composeProduct.name, 'proxy')).filter((c) => c.running);
  const composeUrl = `http://127.0.0.1:${await publishedPort(caddy?.id ?? '', 80, runner)}/version`;
  await waitServing(composeUrl, 'v1');
  // The first deploys' steps are not switches.
  steps.swarm = {};
  steps.compose = {};

  const techniques: Technique[] = [
    {
      name: 'plain docker stack deploy (start-first)',
      url: plainUrl,
      runs: [],
      async run(to) {
        const since = Date.now();
        const started = performance.now();
        await plainDeploy(to);
        await waitUpdated(vm.runner, stackServiceName(plainStack, 'web'), since);
        return performance.now() - started;
      },
    },
    { name: 'berth on Swarm (deploy CLI)', url: swarmUrl, runs: [], run: (to) => deploy(swarmProduct, 'swarm', to) },
    { name: 'berth on Compose (deploy CLI)', url: composeUrl, runs: [], run: (to) => deploy(composeProduct, 'compose', to) },
    {
      name: 'Swarm, Caddy to task addresses',
      url: tasksUrl,
      runs: [],
      async run(to) {
        const started = performance.now();
        const next = otherSlot(tasksSlot);
        const { address } = await startSlot(next, to);
        await writeUpstreams(address);
        // Looked up at each switch, as berth would: Swarm may have replaced Caddy's task since.
        const [caddy] = (await vm.runner.read(taskContainersHere(tasksStack, 'proxy'))).split('\n').filter(Boolean);
        if (!caddy) throw new Error(`${tasksStack}: no running Caddy task`);
        await vm.runner.run(caddyReload(caddy));
        const reloadedMs = performance.now() - started;
        const old = slotServiceName(tasksStack, tasksSlot);
        tasksSlot = next;
        await vm.runner.run(serviceRemove(old));
        await waitGone(old, () => tasksStoppedMs.push(performance.now() - started));
        tasksGoneMs.push(performance.now() - started);
        return reloadedMs;
      },
    },
  ];

  await takeTurns(techniques, RUNS, RATE);

  const summary = (technique: Technique) => {
    const mixed = technique.runs.map((r) => r.mixedMs);
    return {
      ...loadTotals(technique),
      switchedMs: median(technique.runs.map((r) => r.switchedMs)),
      mixedMs: median(mixed),
      mixedMaxMs: Math.max(...mixed),
    };
  };
  type Summary = ReturnType<typeof summary>;
  const summaries = techniques.map(summary);
  const [plainT, swarmT, composeT, tasksT] = summaries as [Summary, Summary, Summary, Summary];
  const header = ['technique', 'requests', 'failed', 'retried', 'gap ms', 'deploy ms', 'first new ms', 'switched ms', 'mixed ms'];
  const rows = techniques.map((technique, i) => {
    const s = summaries[i] as Summary;
    return [
      technique.name,
      String(s.requests),
      String(s.failed),
      String(s.retried),
      String(s.gapMs),
      round(s.wallMs),
      round(s.firstNewMs),
      round(s.switchedMs),
      `${round(s.mixedMs)} (max ${round(s.mixedMaxMs)})`,
    ];
  });
  const widths = header.map((_, c) => Math.max(...[header, ...rows].map((r) => (r[c] as string).length)));
  const format = (r: string[]) =>
    r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] as number) : cell.padStart(widths[c] as number))).join('  ');
  const ratio = (a: number, b: number) => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}x` : 'n/a');
  const runsOf = (technique: Technique, pick: (r: Run) => number) => technique.runs.map((r) => round(pick(r))).join(', ');
  const stepsOf = (engine: 'swarm' | 'compose') =>
    Object.entries(steps[engine])
      .map(([step, values]) => `${step} ${round(median(values))}`)
      .join(', ');
  const [plainTech, swarmTech, composeTech, tasksTech] = techniques as [Technique, Technique, Technique, Technique];
  const errors = techniques.flatMap((t, i) => (summaries[i] as Summary).errors.map((e) => `${t.name}: ${e}`));
  const lines = [
    `swarm bench: one busybox HTTP app behind its own Caddy, v1 <-> v2, ${RUNS} rounds (one switch per technique each, in turn);`,
    `  Swarm: a one-node swarm on a second engine (dnsrr, Caddy in host mode), Compose ${flavour.name} ${flavour.version} on the default engine;`,
    `  Caddy ${caddyVersion}`,
    `  load: 2 clients, ${RATE} req/s in all, on each Caddy's 127.0.0.1 port, one loop per switch, from ${LEAD_MS} ms before it to ${SETTLE_MS} ms after`,
    `  it; requests/failed/retried are summed over the runs, gap (longest time without a successful answer) is the worst run's; deploy = median`,
    `  wall time (plain: stack deploy until Swarm says the update completed; berth: the CLI, node start to exit; task addresses: until the`,
    `  Caddy reload returned, the old slot removed after it, under the same load); first new = median time from the start to the first`,
    `  new-version answer; switched = to the last old-version answer (all new after it); mixed = how long both answered.`,
    '',
    format(header),
    ...rows.map(format),
    '',
    `  first new / switched / mixed per run (ms): plain ${runsOf(plainTech, (r) => r.firstNewMs)} / ${runsOf(plainTech, (r) => r.switchedMs)} / ${runsOf(plainTech, (r) => r.mixedMs)}`,
    `                                             berth Swarm ${runsOf(swarmTech, (r) => r.firstNewMs)} / ${runsOf(swarmTech, (r) => r.switchedMs)} / ${runsOf(swarmTech, (r) => r.mixedMs)}`,
    `                                             berth Compose ${runsOf(composeTech, (r) => r.firstNewMs)} / ${runsOf(composeTech, (r) => r.switchedMs)} / ${runsOf(composeTech, (r) => r.mixedMs)}`,
    `                                             task addresses ${runsOf(tasksTech, (r) => r.firstNewMs)} / ${runsOf(tasksTech, (r) => r.switchedMs)} / ${runsOf(tasksTech, (r) => r.mixedMs)}`,
    `  task addresses: until the reload returned ${runsOf(tasksTech, (r) => r.wallMs)} ms; until the old slot's container`,
    `  had stopped ${tasksStoppedMs.map(round).join(', ')} ms (median ${round(median(tasksStoppedMs))}), was gone ${tasksGoneMs.map(round).join(', ')} ms (median ${round(median(tasksGoneMs))})`,
    `  failed requests that were resets of a just-opened connection: ${techniques.map((t, i) => `${t.name} ${(summaries[i] as Summary).resets}`).join(', ')}`,
    `  berth on Swarm steps (median ms)    ${stepsOf('swarm')}`,
    `  berth on Compose steps (median ms)  ${stepsOf('compose')}`,
    '',
    `  berth on Swarm / plain stack deploy:   deploy ${ratio(swarmT.wallMs, plainT.wallMs)}, switched ${ratio(swarmT.switchedMs, plainT.switchedMs)}; failed ${swarmT.failed} vs ${plainT.failed}, gap ${swarmT.gapMs} vs ${plainT.gapMs} ms`,
    `  berth on Compose / plain stack deploy: deploy ${ratio(composeT.wallMs, plainT.wallMs)}, switched ${ratio(composeT.switchedMs, plainT.switchedMs)}; failed ${composeT.failed} vs ${plainT.failed}, gap ${composeT.gapMs} vs ${plainT.gapMs} ms`,
    `  task addresses / plain stack deploy:   deploy ${ratio(tasksT.wallMs, plainT.wallMs)}, switched ${ratio(tasksT.switchedMs, plainT.switchedMs)}; failed ${tasksT.failed} vs ${plainT.failed}, gap ${tasksT.gapMs} vs ${plainT.gapMs} ms`,
    `  mixed window (median): Swarm ${round(plainT.mixedMs)} ms plain, ${round(swarmT.mixedMs)} ms berth, ${round(tasksT.mixedMs)} ms task addresses (max ${round(tasksT.mixedMaxMs)}); Compose ${round(composeT.mixedMs)} ms berth`,
    ...(errors.length ? ['', '  first load errors:', ...errors.slice(0, 10).map((e) => `    ${e}`)] : []),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await teardown.run();
}
