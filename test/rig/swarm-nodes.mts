// A Docker Swarm of several nodes on this one machine: each node a dockerd in a network namespace
// this rig makes (and a UTS namespace, so each node has its own name), the namespaces joined by a
// bridge of its own on the host. Node addresses live only inside the namespaces; the host has the
// bridge's .1. No vitest import: benchmarks may use it.
//
// Why namespaces: Swarm's ports (2377, 7946, 4789) are per network namespace, and the host's own
// may hold another swarm (a one-node one on the rig's second engine). A dockerd in its own netns
// also manages iptables there without touching the host's DOCKER chains; the one host rule this
// rig adds (FORWARD between its own bridge ports: bridged frames go through the host's FORWARD
// chain, whose policy the shared engine sets to DROP) is named by a comment and removed at stop.
// Swarm's ingress sandbox and the overlay namespaces land under each node's --exec-root (measured
// on engine 20.10: <exec-root>/netns/ingress_sbox), nothing in /run/docker/netns.
//
// Each node reaches the test registry at the very name images carry, 127.0.0.1:PORT: the node's
// own loopback is DNAT'ed (route_localnet) to a relay this rig runs on the bridge's .1, which
// passes the bytes to the registry on the host's loopback.
//
// Only the mount namespace is shared with the host (nsenter --net, not `ip netns exec`, which
// would also remount /sys and hide the cgroup hierarchy from dockerd): berth writes its upstream
// files and stack file on this machine's disk and the manager's tasks bind-mount them.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { startRelay, type Relay } from './relay.mts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnDetached, type Daemon } from '../../lib/dev/daemon.mts';
import { createRunner, type Runner } from '../../lib/core/runner.mts';
import { engineProcesses, pickSubnet } from './second-engine.mts';

export interface SwarmNode {
  /** The node's hostname, which Swarm shows as its node name. */
  name: string;
  /** Its network namespace, /run/netns/<netns>. */
  netns: string;
  /** Its address on the rig's bridge, e.g. 10.N.0.10; reachable from the host. */
  address: string;
  /** Environment for commands meant for this node's engine. */
  env: { DOCKER_HOST: string };
  runner: Runner;
  /** Prefix an argv with this to run it in the node's network namespace (berth "on the manager"). */
  enter: string[];
  readonly pid: number;
  execRoot: string;
}

export interface SwarmNodes {
  manager: SwarmNode;
  workers: SwarmNode[];
  bridge: string;
  /** How long the rig took to come up, by phase (ms). */
  timings: Record<string, number>;
  /** CPU seconds (user + system) the nodes' processes have used so far, the living ones. */
  cpuSeconds(): Promise<number>;
  stop(): Promise<{ ms: number }>;
}

export interface SwarmNodesOptions {
  workers?: number;
  /** The test registry, 127.0.0.1:PORT, which every node must pull from under that name. */
  registry?: string;
  logDir?: string;
}

const host = createRunner();

async function cpuTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // Fields after the command (which may hold spaces) start after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startSwarmNodes(options: SwarmNodesOptions = {}): Promise<SwarmNodes> {
  const began = performance.now();
  const timings: Record<string, number> = {};
  const mark = (phase: string, since: number) => (timings[phase] = Math.round(performance.now() - since));
  const id = randomBytes(3).toString('hex');
  const count = 1 + (options.workers ?? 1);
  if (count > 8) throw new Error('startSwarmNodes: at most 7 workers (the address plan has room for 8 nodes)');
  const root = await mkdtemp(join(tmpdir(), 'berth-sn-'));
  const n = await pickSubnet();
  const bridge = `bsn${id}`;
  const gateway = `10.${n}.0.1`;
  const forwardRule = ['FORWARD', '-i', bridge, '-o', bridge, '-m', 'comment', '--comment', `berth-sn-${id}`, '-j', 'ACCEPT'];
  const made = { bridge: false, forward: false, netns: [] as string[] };
  const daemons: { daemon: Daemon; node: SwarmNode; pidfile: string; logFile: string }[] = [];
  let relay: Relay | undefined;

  const umountLeftovers = async () => {
    // dockerd's overlay mounts and the bind mounts that keep its network namespaces alive.
    const points = (await readFile('/proc/self/mountinfo', 'utf8').catch(() => ''))
      .split('\n')
      .map((line) => line.split(' ')[4] ?? '')
      .filter((point) => point.startsWith(`${root}/`))
      .sort((a, b) => b.length - a.length);
    for (const point of points) await host.probe(['umount', point]);
  };

  /** SIGTERM to the PID the pidfile names, wait for it, then whatever names its exec root. */
  const stopDaemon = async (entry: (typeof daemons)[number]) => {
    const recorded = Number((await readFile(entry.pidfile, 'utf8').catch(() => '')).trim());
    if (recorded === entry.daemon.pid && entry.daemon.running()) {
      process.kill(recorded, 'SIGTERM');
      const deadline = Date.now() + 30_000;
      while (entry.daemon.running() && Date.now() < deadline) await sleep(100);
    }
    await entry.daemon.stop(1_000);
    for (const leftover of await engineProcesses(entry.daemon.pid, entry.node.execRoot)) {
      if (leftover.pid === entry.daemon.pid) continue;
      try {
        process.kill(leftover.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };

  const teardown = async () => {
    // Workers first: a manager that leaves first leaves them looking for it.
    const leave = async (entry: (typeof daemons)[number]) => {
      if (!entry.daemon.running()) return;
      await entry.node.runner.probe(['docker', 'swarm', 'leave', '--force'], { timeoutMs: 20_000 });
      const containers = (await entry.node.runner.probe(['docker', 'ps', '--all', '--quiet'])).stdout.split('\n').filter(Boolean);
      if (containers.length) await entry.node.runner.probe(['docker', 'rm', '--force', '--volumes', ...containers]);
    };
    await Promise.all(daemons.slice(1).map(leave));
    if (daemons[0]) await leave(daemons[0]);
    await Promise.all(daemons.map(stopDaemon));
    await umountLeftovers();
    await relay?.close();
    for (const netns of made.netns) await host.probe(['ip', 'netns', 'del', netns]);
    for (let i = 0; i < count; i++) await host.probe(['ip', 'link', 'del', `vsn${id}${i}`]);
    if (made.bridge) await host.probe(['ip', 'link', 'del', bridge]);
    if (made.forward) await host.probe(['iptables', '-D', ...forwardRule]);
    await rm(root, { recursive: true, force: true });
  };

  try {
    let since = performance.now();
    await host.run(['ip', 'link', 'add', bridge, 'type', 'bridge']);
    made.bridge = true;
    await host.run(['ip', 'addr', 'add', `${gateway}/24`, 'dev', bridge]);
    await host.run(['ip', 'link', 'set', bridge, 'up']);
    await host.run(['iptables', '-I', ...forwardRule]);
    made.forward = true;
    if (options.registry) {
      const [registryHost, registryPort] = options.registry.split(':');
      relay = await startRelay({ host: registryHost ?? '127.0.0.1', port: Number(registryPort) }, gateway);
    }
    const nodes: (Omit<SwarmNode, 'pid'> & { pid: number; pidfile: string; logFile: string; spawn: () => Daemon })[] = [];
    for (let i = 0; i < count; i++) {
      const netns = `berth-sn${id}-${i}`;
      const name = `sn${id}-${i === 0 ? 'manager' : `worker${i}`}`;
      const address = `10.${n}.0.${10 + i}`;
      const veth = `vsn${id}${i}`;
      await host.run(['ip', 'netns', 'add', netns]);
      made.netns.push(netns);
      await host.run(['ip', 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
      await host.run(['ip', 'link', 'set', veth, 'master', bridge, 'up']);
      await host.run(['ip', '-n', netns, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
      await host.run(['ip', '-n', netns, 'link', 'set', 'eth0', 'up']);
      await host.run(['ip', '-n', netns, 'link', 'set', 'lo', 'up']);
      if (relay) {
        // 127.0.0.1:PORT inside the node is the registry: DNAT to the relay, and a source the
        // bridge can answer (a packet from 127.0.0.1 may not leave the node otherwise).
        const [, registryPort] = (options.registry ?? '').split(':');
        const inNs = ['ip', 'netns', 'exec', netns];
        await host.run([...inNs, 'sysctl', '-qw', 'net.ipv4.conf.all.route_localnet=1']);
        await host.run([
          ...inNs,
          ...['iptables', '-t', 'nat', '-A', 'OUTPUT', '-d', '127.0.0.1/32', '-p', 'tcp', '--dport', String(registryPort)],
          ...['-j', 'DNAT', '--to-destination', `${gateway}:${relay.port}`],
        ]);
        await host.run([
          ...inNs,
          ...['iptables', '-t', 'nat', '-A', 'POSTROUTING', '-d', `${gateway}/32`, '-p', 'tcp', '--dport', String(relay.port)],
          ...['-j', 'SNAT', '--to-source', address],
        ]);
      }
      const dir = join(root, String(i));
      await mkdir(dir);
      const configFile = join(dir, 'daemon.json');
      await writeFile(configFile, '{}\n');
      const socket = join(dir, 'd.sock');
      const pidfile = join(dir, 'd.pid');
      // Short: containerd's socket lives under it, and unix socket paths are limited to 107 bytes.
      const execRoot = join(dir, 'x');
      const logFile = join(options.logDir ?? dir, `dockerd-${i}.log`);
      const enter = ['nsenter', `--net=/run/netns/${netns}`];
      const argv = [
        ...enter,
        ...['unshare', '--uts', 'sh', '-c', 'hostname "$0" && exec "$@"', name],
        ...['dockerd', '--config-file', configFile, '--data-root', join(dir, 'data'), '--exec-root', execRoot],
        ...['--host', `unix://${socket}`, '--pidfile', pidfile],
        // docker0 and docker_gwbridge from the node's own slice of 10.N, overlays from 10.N.64/18.
        ...['--default-address-pool', `base=10.${n}.${128 + 16 * i}.0/20,size=24`],
        ...['--containerd-namespace', `berth-sn-${id}-${i}`, '--containerd-plugins-namespace', `berth-sn-${id}-${i}-plugins`],
      ];
      const env = { DOCKER_HOST: `unix://${socket}` };
      nodes.push({
        name,
        netns,
        address,
        env,
        runner: createRunner({ env }),
        enter,
        pid: 0,
        execRoot,
        pidfile,
        logFile,
        spawn: () => spawnDetached(argv, { logFile }),
      });
    }
    mark('network', since);

    since = performance.now();
    for (const node of nodes) {
      const daemon = node.spawn();
      // nsenter, unshare and sh each exec the next: the PID is dockerd's.
      node.pid = daemon.pid;
      daemons.push({ daemon, node, pidfile: node.pidfile, logFile: node.logFile });
    }
    await Promise.all(
      daemons.map(async ({ daemon, node, logFile }) => {
        const deadline = Date.now() + 90_000;
        for (;;) {
          const info = await node.runner.probe(['docker', 'info', '--format', '{{.Name}}'], { timeoutMs: 5_000 });
          if (info.exitCode === 0 && info.stdout.trim() === node.name) return;
          if (!daemon.running() || Date.now() > deadline) {
            const log = existsSync(logFile) ? await readFile(logFile, 'utf8') : '';
            throw new Error(`node ${node.name} did not start: ${log.trim().split('\n').slice(-6).join(' | ')}`);
          }
          await sleep(200);
        }
      }),
    );
    mark('engines', since);

    since = performance.now();
    const [manager, ...workers] = nodes as [(typeof nodes)[number], ...(typeof nodes)[number][]];
    await manager.runner.run([
      ...['docker', 'swarm', 'init', '--advertise-addr', manager.address, '--listen-addr', `${manager.address}:2377`],
      ...['--default-addr-pool', `10.${n}.64.0/18`],
    ]);
    const token = (await manager.runner.read(['docker', 'swarm', 'join-token', '--quiet', 'worker'])).trim();
    await Promise.all(
      workers.map((worker) =>
        worker.runner.run([
          ...['docker', 'swarm', 'join', '--token', token, '--advertise-addr', worker.address],
          ...['--listen-addr', `${worker.address}:2377`, `${manager.address}:2377`],
        ]),
      ),
    );
    const deadline = Date.now() + 60_000;
    for (;;) {
      const listed = (await manager.runner.read(['docker', 'node', 'ls', '--format', '{{.Hostname}} {{.Status}}'])).trim().split('\n');
      const ready = listed.filter((line) => line.endsWith(' Ready')).length;
      if (ready === count) break;
      if (Date.now() > deadline) throw new Error(`the swarm has ${ready} of ${count} nodes Ready: ${listed.join(', ')}`);
      await sleep(250);
    }
    mark('swarm', since);
    timings.total = Math.round(performance.now() - began);

    const strip = ({ pidfile: _p, logFile: _l, spawn: _s, ...node }: (typeof nodes)[number]) => node;
    return {
      manager: strip(manager),
      workers: workers.map(strip),
      bridge,
      timings,
      async cpuSeconds() {
        let ticks = 0;
        for (const { daemon, node } of daemons) {
          for (const p of await engineProcesses(daemon.pid, node.execRoot)) ticks += await cpuTicks(p.pid);
        }
        return ticks / 100;
      },
      async stop() {
        const started = performance.now();
        await teardown();
        return { ms: Math.round(performance.now() - started) };
      },
    };
  } catch (error) {
    await teardown();
    throw error;
  }
}
