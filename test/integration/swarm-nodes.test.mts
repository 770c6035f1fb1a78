// berth on a real swarm of several nodes: a manager and two workers, each a dockerd in a network
// namespace the rig makes (test/rig/swarm-nodes.mts), never the shared engine and never the host's
// own namespace. web runs two tasks on two nodes; the product's Caddy is pinned to the manager,
// where berth runs: in the manager's namespace, as on a real manager, so 127.0.0.1 is the manager's
// loopback (smoke checks reach the host-mode port there) and berth's files are on this disk.
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerPort } from '../../lib/commands/caddy.mts';
import { readLedger } from '../../lib/releases/ledger.mts';
import { doorCaddyfile, makeFixtureProduct, type FixtureProduct } from '../rig/fixture-product.mts';
import { engineAvailable, REPO_ROOT, rigRunner, underLoad, usePrefix, useRegistry } from '../rig/index.mts';
import { startRelay, type Relay } from '../rig/relay.mts';
import { startSwarmNodes, type SwarmNodes } from '../rig/swarm-nodes.mts';

describe.skipIf(!engineAvailable)('berth on a swarm of three nodes (a manager and two workers, each in its own network namespace)', () => {
  const prefix = usePrefix();
  const registry = useRegistry();
  let nodes: SwarmNodes | undefined;
  let product: FixtureProduct;
  let url: string;
  /** 127.0.0.1:PORT to the Caddy's host-mode port on the manager's address (the load loop and
   *  the test's own requests go to loopback only). */
  let door: Relay | undefined;
  const fileStarted = performance.now();
  const loadBefore = loadavg()[0];

  const swarm = () => {
    if (!nodes) throw new Error('the swarm did not start');
    return { manager: nodes.manager };
  };
  /** berth as an operator runs it on the manager: in its network namespace, on its engine. */
  const berth = async (args: string[], script = 'deploy') => {
    const { manager } = swarm();
    const result = await rigRunner.probe([...manager.enter, process.execPath, join(REPO_ROOT, 'scripts', `${script}.mts`), ...args], {
      cwd: REPO_ROOT,
      env: { NO_COLOR: '1', ...product.env, ...manager.env, BERTH_ENGINE: 'swarm' },
    });
    return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
  };
  const ledger = () => readLedger(join(product.stateDir, product.name));
  const upstreamFile = () => join(product.stateDir, product.name, 'upstreams', 'web.caddy');
  const specImage = async () =>
    (
      await swarm().manager.runner.read([
        ...['docker', 'service', 'inspect', '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}'],
        `${prefix}_web`,
      ])
    ).trim();
  /** web's task containers on every node, of the tasks Swarm means to run (not a replaced one
   *  still stopping): node, short id (the app's hostname), overlay address. */
  const webTasks = async () => {
    const found = [];
    const meant = new Set(
      (
        await swarm().manager.runner.read([
          ...['docker', 'service', 'ps', '--no-trunc', '--quiet', '--filter', 'desired-state=running'],
          `${prefix}_web`,
        ])
      )
        .split('\n')
        .filter(Boolean),
    );
    for (const node of nodes ? [nodes.manager, ...nodes.workers] : []) {
      const ids = (
        await node.runner.read([
          ...['docker', 'ps', '--filter', `label=com.docker.swarm.service.name=${prefix}_web`],
          ...['--format', '{{.ID}} {{.Label "com.docker.swarm.task.id"}}'],
        ])
      )
        .split('\n')
        .filter(Boolean)
        .flatMap((line) => {
          const [id = '', task = ''] = line.split(' ');
          return meant.has(task) ? [id] : [];
        });
      for (const id of ids) {
        const [address, image] = (
          await node.runner.read([
            ...['docker', 'inspect', '--format'],
            `{{(index .NetworkSettings.Networks "${prefix}_default").IPAddress}} {{.Config.Image}}`,
            id,
          ])
        )
          .trim()
          .split(' ');
        found.push({ node: node.name, worker: node !== nodes?.manager, id: id.slice(0, 12), address, image });
      }
    }
    return found;
  };
  /** Two tasks, never two on one node (max_replicas_per_node: 1), at least one on a worker. */
  const expectSpread = (tasks: Awaited<ReturnType<typeof webTasks>>) => {
    expect(tasks, JSON.stringify(tasks)).toHaveLength(2);
    expect(new Set(tasks.map((t) => t.node)).size).toBe(2);
    expect(tasks.some((t) => t.worker)).toBe(true);
  };

  beforeAll(async () => {
    nodes = await startSwarmNodes({ workers: 2, registry: registry.address });
    console.log(`swarm of 3 nodes up in ${nodes.timings.total} ms (${JSON.stringify(nodes.timings)})`);
    product = await makeFixtureProduct({
      prefix,
      registry: registry.address,
      services: {
        proxy: {
          kind: 'proxy',
          image: `\${REGISTRY}/${prefix}-proxy:caddy`,
          // On the manager, where berth reloads it and writes the files it mounts.
          compose: [
            'ports: [{ target: 80, mode: host }]',
            'volumes: ["./Caddyfile:/etc/caddy/Caddyfile:ro", "${BERTH_UPSTREAMS}:/etc/caddy/upstreams:ro"]',
            'deploy: { placement: { constraints: [node.role == manager] } }',
          ],
        },
        web: {
          // Three nodes for two replicas: with berth's start-first updates and as many replicas
          // as nodes, the new task has no node it may start on and the update waits for ever
          // (measured); without the limit, Swarm put both tasks on one node after a rollback.
          compose: ['deploy: { replicas: 2, placement: { max_replicas_per_node: 1 } }'],
          product: `health: { path: '/healthz', port: 8080 }`,
        },
      },
      productExtra: `  smoke: [{ path: '/version', status: 200, contains: '{tag}' }],
  monitorSeconds: 1,`,
      files: { Caddyfile: doorCaddyfile() },
    });
    await product.pushProxy();
    await product.pushApp('web', 'v1');
    await product.pushApp('web', 'v2');
  }, 180_000);

  /** The nodes' CPU so far, the load average and the file's time: logged before the teardown. */
  const logCost = async (what: string) => {
    const cpu = await nodes?.cpuSeconds().catch(() => NaN);
    console.log(
      `swarm of 3 nodes, ${what}: the nodes' living processes used ${cpu} s of CPU; load average ${loadBefore?.toFixed(2)} before the file, ${loadavg()[0]?.toFixed(2)} now; the file has run ${Math.round(performance.now() - fileStarted)} ms`,
    );
  };

  afterAll(async () => {
    await door?.close();
    // The last test tears the swarm down and checks it; this is for a file that failed before.
    if (nodes) {
      await logCost('a failed run');
      const { ms } = await nodes.stop();
      console.log(`swarm of 3 nodes torn down in ${ms} ms`);
    }
    await product?.remove();
  }, 120_000);

  it('refuses, before touching the swarm, replicas that max_replicas_per_node leaves no room to update', async () => {
    const { manager } = swarm();
    const tight = await makeFixtureProduct({
      prefix: `${prefix}-tight`,
      registry: registry.address,
      services: {
        web: {
          compose: ['deploy: { replicas: 3, placement: { max_replicas_per_node: 1 } }'],
          product: `health: { path: '/healthz', port: 8080 }`,
        },
      },
    });
    try {
      await tight.pushApp('web', 'v1');
      const result = await rigRunner.probe(
        [...manager.enter, process.execPath, join(REPO_ROOT, 'scripts', 'deploy.mts'), tight.name, '--tag', 'v1'],
        {
          cwd: REPO_ROOT,
          env: { NO_COLOR: '1', ...tight.env, ...manager.env, BERTH_ENGINE: 'swarm' },
        },
      );
      expect(result.exitCode, result.stderr).toBe(2);
      expect(result.stderr.split('\n').filter((line) => line.startsWith('error:'))).toEqual([
        expect.stringMatching(
          /^error: \S+-tight cannot run on a swarm as it is: services\.web: placement\.max_replicas_per_node 1 on 3 nodes leaves no room for the task a start-first update adds to its 3 replicas, .*raise max_replicas_per_node to 2, add a node, or set deploy\.update_config\.order: stop-first$/,
        ),
      ]);
      expect(
        (
          await manager.runner.read(['docker', 'service', 'ls', '--quiet', '--filter', `label=com.docker.stack.namespace=${tight.name}`])
        ).trim(),
      ).toBe('');
      // Refused while rendering the stack file: recorded as a deploy that failed there.
      expect(readLedger(join(tight.stateDir, tight.name))).toEqual([
        expect.objectContaining({
          tag: 'v1',
          result: 'failed',
          error: expect.stringMatching(/^render: .*max_replicas_per_node 1 on 3 nodes/),
        }),
      ]);
    } finally {
      await tight.remove();
    }
  }, 120_000);

  it("deploys v1 with web's two tasks on two nodes, a worker among them; both answer through the Caddy on the manager; status names their nodes", async () => {
    const { manager } = swarm();
    const result = await berth([product.name, '--tag', 'v1']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(await specImage()).toMatch(/:v1@sha256:/);
    const v1 = ledger().at(-1)?.services.web?.digest;
    expect(ledger().at(-1)).toMatchObject({ tag: 'v1', result: 'ok', services: { web: { digest: expect.stringMatching(/@sha256:/) } } });

    // The front door: the stack's Caddy task on the manager, at the manager's address.
    const caddy = (
      await manager.runner.read(['docker', 'ps', '--quiet', '--filter', `label=com.docker.swarm.service.name=${prefix}_proxy`])
    ).trim();
    expect(caddy).not.toBe('');
    const port = (await manager.runner.read(dockerPort(caddy, 80))).split('\n')[0]?.split(':').pop();
    door = await startRelay({ host: manager.address, port: Number(port) });
    url = `http://${door.address}/version`;
    expect(await fetch(url, { signal: AbortSignal.timeout(2_000) }).then((r) => r.text())).toBe('v1');

    const tasks = await webTasks();
    expectSpread(tasks);

    // Swarm's network namespaces (ingress, the stack's overlay) are under each node's exec root:
    // none lands in /run/docker/netns, the shared engine's, whatever swarm the host may run.
    const hostNetns = existsSync('/run/docker/netns') ? await readdir('/run/docker/netns') : [];
    for (const node of [manager, ...(nodes?.workers ?? [])]) {
      const own = (await readdir(join(node.execRoot, 'netns'))).filter((name) => !/^[0-9a-f]{12}$/.test(name));
      console.log(`${node.name}: ${own.join(' ')}`);
      expect(own).toContain('ingress_sbox');
      for (const name of own) expect(hostNetns).not.toContain(name);
    }
    // The stack's overlay network has its namespace on each node that runs one of web's tasks.
    const overlay = (await manager.runner.read(['docker', 'network', 'inspect', '--format', '{{.Id}}', `${prefix}_default`])).trim();
    for (const task of tasks) {
      const node = [manager, ...(nodes?.workers ?? [])].find((n) => n.name === task.node);
      expect(await readdir(join(node?.execRoot ?? '', 'netns')), task.node).toContain(`1-${overlay.slice(0, 10)}`);
    }
    // Each task answers /who with its hostname, its container's short id: both nodes' tasks serve.
    const who = new Set<string>();
    for (let i = 0; i < 60 && who.size < 2; i++) {
      const answer = await fetch(`http://${door.address}/who`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.text());
      who.add(answer.split(' ')[0] ?? '');
    }
    expect([...who].sort()).toEqual(tasks.map((t) => t.id).sort());

    const json = await berth([product.name, '--json'], 'status');
    expect(json.exitCode, json.stderr).toBe(0);
    const [status] = JSON.parse(json.stdout).products;
    expect(status).toMatchObject({ product: product.name, engine: 'swarm', state: 'running', release: { tag: 'v1' } });
    const web = status.services.find((s: { service: string }) => s.service === 'web');
    // healthy whichever nodes the tasks are on: a running http task elsewhere passed its check.
    expect(web).toMatchObject({ state: 'running', health: 'healthy', tag: 'v1', digest: v1, replicas: '2/2', matchesLedger: true });
    expect(web.tasks.map((t: { node: string }) => t.node).sort()).toEqual(tasks.map((t) => t.node).sort());
    for (const task of web.tasks) expect(task).toMatchObject({ state: expect.stringMatching(/^Running/), digest: v1 });
    expect(status.services.find((s: { service: string }) => s.service === 'proxy')).toMatchObject({ state: 'running', replicas: '1/1' });

    const text = await berth([product.name], 'status');
    console.log(text.stdout);
    expect(text.exitCode, text.stderr).toBe(0);
    for (const { node } of tasks)
      expect(text.stdout).toMatch(
        new RegExp(`^ {4}task ${prefix}_web\\.\\d +on ${node} +Running .* ${v1?.split('@sha256:')[1]?.slice(0, 12)}`, 'm'),
      );
  }, 180_000);

  it("updates to v2 under load through the manager: no failed request, no v1 after the first v2, the worker's task pinned too", async () => {
    const old = await webTasks();
    expectSpread(old);
    // What berth's upstream file says during the deploy: the old tasks, the new ones, then the alias.
    const files = new Set<string>();
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        if (existsSync(upstreamFile())) files.add(await readFile(upstreamFile(), 'utf8').catch(() => ''));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const started = performance.now();
    const seen: Record<string, { first: number; last: number }> = {};
    const onAnswer = (at: number, body: string) => {
      const entry = (seen[body] ??= { first: at, last: at });
      entry.last = at;
    };
    let run;
    try {
      run = await underLoad(url, () => berth([product.name, '--tag', 'v2']), { ratePerSecond: 150, onAnswer });
    } finally {
      watching = false;
      await watcher;
    }
    const { value: result, report } = run;
    const ms = Math.round(performance.now() - started);
    const firstV2 = Math.round((seen.v2?.first ?? 0) - started);
    const mixed = Math.round((seen.v1?.last ?? 0) - (seen.v2?.first ?? 0));
    console.log(
      `3-node swarm v1 -> v2: deploy ${ms} ms (${JSON.stringify(ledger().at(-1)?.durationsMs)}), ${report.requests} requests, ${report.failed} failed, longest gap ${report.longestGapMs} ms, first v2 ${firstV2} ms after the deploy began, v1 and v2 both served for ${Math.max(0, mixed)} ms, load average ${loadavg()[0]?.toFixed(2)}`,
    );
    expect(result.exitCode, result.stderr).toBe(0);
    expect(report.failed, JSON.stringify(report.errors.slice(0, 3))).toBe(0);
    expect(report.bodies.v2).toBeGreaterThan(0);
    expect(Math.max(0, mixed)).toBe(0);
    expect(await specImage()).toMatch(/:v2@sha256:/);
    expect(ledger().at(-1)).toMatchObject({ tag: 'v2', result: 'ok', changed: ['web'] });

    // The pin named both old tasks by their overlay addresses, the worker's among them; the switch
    // named both new ones the same way; once Swarm completed, the file named the new release's alias.
    const listed = [...files].filter((text) => /^to /m.test(text));
    expect(listed, [...files].join('\n---\n')).toHaveLength(2);
    for (const task of old) expect(listed[0]).toContain(`${task.address}:8080`);
    expect(await readFile(upstreamFile(), 'utf8')).toMatch(/dynamic a web-[0-9a-f]{12} 8080/);
    const now = await webTasks();
    expectSpread(now);
    for (const task of now) expect(task.image).toMatch(/:v2@sha256:/);
    for (const task of now) expect(listed[1]).toContain(`${task.address}:8080`);
  }, 300_000);

  it('rolls back to the previous release (v1) under load with no failed request', async () => {
    const v1 = ledger().find((r) => r.tag === 'v1')?.services.web?.digest;
    const started = performance.now();
    const seen: Record<string, { first: number; last: number }> = {};
    const onAnswer = (at: number, body: string) => {
      const entry = (seen[body] ??= { first: at, last: at });
      entry.last = at;
    };
    const { value: result, report } = await underLoad(url, () => berth([product.name, '--previous'], 'rollback'), {
      ratePerSecond: 150,
      onAnswer,
    });
    const mixed = Math.round((seen.v2?.last ?? 0) - (seen.v1?.first ?? 0));
    console.log(
      `3-node swarm rollback v2 -> v1: ${Math.round(performance.now() - started)} ms, ${report.requests} requests, ${report.failed} failed, longest gap ${report.longestGapMs} ms, bodies ${JSON.stringify(report.bodies)}, v2 and v1 both served for ${Math.max(0, mixed)} ms`,
    );
    expect(result.exitCode, result.stderr).toBe(0);
    expect(report.failed, JSON.stringify(report.errors.slice(0, 3))).toBe(0);
    // The rollback switches the front door as a deploy does: no v2 after the first v1.
    expect(Math.max(0, mixed)).toBe(0);
    expect(await specImage()).toBe(`${product.repository('web')}:v1@${v1?.split('@')[1]}`);
    expect(await fetch(url).then((r) => r.text())).toBe('v1');
    expect(ledger().at(-1)).toMatchObject({ tag: 'v1', kind: 'rollback', result: 'ok', services: { web: { digest: v1 } } });
    const now = await webTasks();
    expectSpread(now);
    for (const task of now) expect(task.image).toBe(`${product.repository('web')}:v1@${v1?.split('@')[1]}`);
  }, 300_000);

  it('tears the swarm down leaving nothing on the host: namespaces, bridge, its FORWARD rule, engines', async () => {
    const { manager } = swarm();
    const bridge = nodes?.bridge ?? '';
    const netnsPrefix = manager.netns.replace(/-\d+$/, '-');
    const engines = [manager, ...(nodes?.workers ?? [])].map((node) => node.pid);
    await logCost('before the teardown');
    const { ms } = await (nodes as SwarmNodes).stop();
    nodes = undefined;
    console.log(`swarm of 3 nodes torn down in ${ms} ms`);
    expect((await rigRunner.read(['ip', 'netns', 'list'])).split('\n').filter((line) => line.startsWith(netnsPrefix))).toEqual([]);
    expect((await rigRunner.probe(['ip', 'link', 'show', bridge])).exitCode).not.toBe(0);
    expect(await rigRunner.read(['iptables', '-S', 'FORWARD'])).not.toContain(bridge);
    for (const pid of engines) expect(existsSync(`/proc/${pid}`), `dockerd ${pid}`).toBe(false);
  }, 120_000);
});
