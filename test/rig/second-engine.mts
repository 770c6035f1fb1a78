// A second, independent Docker engine on this machine: the "VM" of the build tests and the
// benchmark, while the engine everyone shares plays the builder. It has its own bridge, data
// root, exec root, socket, pidfile and containerd namespace, and address pools that overlap
// nothing else; berth commands reach it through DOCKER_HOST. No vitest import: benchmarks use it.
//
// It runs with --iptables=false: a dockerd that manages iptables flushes and recreates the DOCKER
// chains at start, which would cut the published ports of the shared engine's containers (other
// people's tests). Without iptables the host still reaches its containers by address and through
// the userland proxy on 127.0.0.1; containers on one of its networks reaching each other is what
// it gives up (the host's FORWARD policy drops bridged traffic it has no rule for): `forward`
// gives it back with one ACCEPT rule of its own for its own address pool, removed at stop, so a
// product with its own Caddy runs there. `dataRootMb` puts the data root on a tmpfs of that size
// (overlay2 accepts tmpfs as its backing filesystem here, measured on kernel 6.18 with engine
// 20.10: a disk that really fills). `restart` is what a VM reboot does to the engine.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnDetached } from '../../lib/dev/daemon.mts';
import { createRunner, type Runner } from '../../lib/core/runner.mts';

export interface SecondEngine {
  /** e.g. unix:///tmp/berth-vm-x/docker.sock */
  host: string;
  /** Environment for commands meant for this engine. */
  env: { DOCKER_HOST: string };
  /** A runner whose every command goes to this engine. */
  runner: Runner;
  /** The running dockerd's PID (a new one after restart()). */
  readonly pid: number;
  execRoot: string;
  dataRoot: string;
  bridge: string;
  /** Resident memory of the engine right now: dockerd, its containerd, shims and containers. */
  rssBytes(): Promise<number>;
  /** Stops dockerd by its pidfile (SIGTERM: it stops its containers as on shutdown), then starts
   *  it again with the same roots; `whileDown` runs in between. Resolves once it answers. */
  restart(whileDown?: () => Promise<void>): Promise<void>;
  stop(): Promise<void>;
}

export interface SecondEngineOptions {
  logDir?: string;
  /** A tmpfs of this many MiB as the data root: disk-full tests fill it. */
  dataRootMb?: number;
  /** Let containers on this engine's networks reach each other (see the top of this file). */
  forward?: boolean;
}

const host = createRunner();

export async function pickSubnet(): Promise<number> {
  const routes = await host.read(['ip', '-4', 'route']);
  for (let attempt = 0; attempt < 50; attempt++) {
    const n = 64 + ((randomBytes(1)[0] ?? 0) % 128);
    if (!routes.includes(`10.${n}.`)) return n;
  }
  throw new Error('no free 10.N.0.0/16 for the second engine');
}

async function processTable(): Promise<{ pid: number; ppid: number; rssKb: number; cmdline: string }[]> {
  const rows = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = await readFile(`/proc/${entry}/status`, 'utf8');
      const cmdline = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).replaceAll('\0', ' ');
      rows.push({
        pid: Number(entry),
        ppid: Number(/^PPid:\s+(\d+)/m.exec(status)?.[1] ?? 0),
        rssKb: Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0),
        cmdline,
      });
    } catch {
      // the process ended while we looked
    }
  }
  return rows;
}

/** PIDs of dockerd `pid` and everything that belongs to it: children, and containerd shims (re-parented to init) named by its exec root. */
export async function engineProcesses(pid: number, execRoot: string): Promise<{ pid: number; rssKb: number }[]> {
  const table = await processTable();
  const ours = new Set<number>([pid, ...table.filter((p) => p.cmdline.includes(execRoot)).map((p) => p.pid)]);
  // Descendants: repeat until nothing new joins (the table is small).
  for (let grew = true; grew;) {
    grew = false;
    for (const p of table) {
      if (!ours.has(p.pid) && ours.has(p.ppid)) {
        ours.add(p.pid);
        grew = true;
      }
    }
  }
  return table.filter((p) => ours.has(p.pid)).map(({ pid: id, rssKb }) => ({ pid: id, rssKb }));
}

/**
 * dockerd 20.10 started again on a data root it used before, with --default-address-pool and no
 * live-restore, "clears the stale bridge network" and then deletes the interface named docker0,
 * whatever --bridge says: the shared engine's default bridge (measured: gone after restart(), and
 * builds on the shared engine then failed with "could not find bridge docker0"). While the second
 * engine starts again, this puts docker0 back as it was, within ~50 ms of it going.
 */
async function guardDefaultBridge(): Promise<{ stop(): Promise<void> }> {
  const shown = await host.probe(['ip', '-o', '-4', 'addr', 'show', 'dev', 'docker0']);
  const cidrs = shown.exitCode === 0 ? [...shown.stdout.matchAll(/inet (\S+)/g)].map((m) => m[1] as string) : [];
  if (shown.exitCode !== 0) return { stop: async () => {} };
  let watching = true;
  const restore = async () => {
    if ((await host.probe(['ip', 'link', 'show', 'docker0'])).exitCode === 0) return;
    await host.probe(['ip', 'link', 'add', 'docker0', 'type', 'bridge']);
    for (const cidr of cidrs) await host.probe(['ip', 'addr', 'add', cidr, 'dev', 'docker0']);
    await host.probe(['ip', 'link', 'set', 'docker0', 'up']);
  };
  const loop = (async () => {
    while (watching) {
      await restore();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await restore();
  })();
  return {
    async stop() {
      watching = false;
      await loop;
    },
  };
}

export async function startSecondEngine(options: SecondEngineOptions = {}): Promise<SecondEngine> {
  const id = randomBytes(3).toString('hex');
  const root = await mkdtemp(join(tmpdir(), 'berth-vm-'));
  const dataRoot = join(root, 'data');
  // Short: containerd's socket lives under it, and unix socket paths are limited to 107 bytes.
  const execRoot = join(root, 'x');
  const socket = join(root, 'docker.sock');
  const pidfile = join(root, 'dockerd.pid');
  const configFile = join(root, 'daemon.json');
  const logFile = join(options.logDir ?? root, 'dockerd.log');
  const bridge = `bvm${id}`;
  const n = await pickSubnet();
  await writeFile(configFile, '{}\n');

  const pool = `10.${n}.128.0/17`;
  // Its own rule, named by a comment, in the host's FORWARD chain: the shared engine's DOCKER
  // chains are not touched.
  const forwardRule = ['FORWARD', '--source', pool, '--destination', pool, '-m', 'comment', '--comment', `berth-vm-${id}`, '-j', 'ACCEPT'];
  let bridgeMade = false;
  let forwardMade = false;
  const cleanupHost = async () => {
    if (forwardMade) await host.probe(['iptables', '-D', ...forwardRule]);
    if (bridgeMade) await host.probe(['ip', 'link', 'del', bridge]);
    if (options.dataRootMb) await host.probe(['umount', dataRoot]);
    await rm(root, { recursive: true, force: true });
  };
  try {
    await host.run(['ip', 'link', 'add', bridge, 'type', 'bridge']);
    bridgeMade = true;
    await host.run(['ip', 'addr', 'add', `10.${n}.0.1/24`, 'dev', bridge]);
    await host.run(['ip', 'link', 'set', bridge, 'up']);
    if (options.forward) {
      await host.run(['iptables', '-I', ...forwardRule]);
      forwardMade = true;
    }
    if (options.dataRootMb) {
      await mkdir(dataRoot);
      await host.run(['mount', '-t', 'tmpfs', '-o', `size=${options.dataRootMb}m`, `berth-vm-${id}`, dataRoot]);
    }
  } catch (error) {
    await cleanupHost();
    throw error;
  }

  const spawnDaemon = () =>
    spawnDetached(
      [
        'dockerd',
        '--config-file',
        configFile,
        '--data-root',
        dataRoot,
        '--exec-root',
        execRoot,
        '--host',
        `unix://${socket}`,
        '--pidfile',
        pidfile,
        '--bridge',
        bridge,
        '--default-address-pool',
        `base=${pool},size=24`,
        '--iptables=false',
        '--containerd-namespace',
        `berth-vm-${id}`,
        '--containerd-plugins-namespace',
        `berth-vm-${id}-plugins`,
      ],
      { logFile },
    );
  let daemon = spawnDaemon();
  const env = { DOCKER_HOST: `unix://${socket}` };
  const runner = createRunner({ env });

  const umountLeftovers = async () => {
    const mounts = (await readFile('/proc/self/mountinfo', 'utf8').catch(() => ''))
      .split('\n')
      .map((line) => line.split(' ')[4] ?? '')
      .filter((point) => point.startsWith(`${root}/`))
      .sort((a, b) => b.length - a.length);
    for (const point of mounts) await host.probe(['umount', point]);
  };

  /** SIGTERM to the PID its pidfile names (as systemd stops docker), then wait for it to exit. */
  const stopDaemon = async () => {
    const recorded = Number((await readFile(pidfile, 'utf8').catch(() => '')).trim());
    if (recorded === daemon.pid) {
      process.kill(recorded, 'SIGTERM');
      const deadline = Date.now() + 30_000;
      while (daemon.running() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await daemon.stop(1_000);
  };

  const stop = async () => {
    if (daemon.running()) {
      // Everything on this engine is ours: removing it first makes shutdown quick and leaves no
      // bridge interface of a compose network behind on the host.
      const containers = (await runner.probe(['docker', 'ps', '--all', '--quiet'])).stdout.split('\n').filter(Boolean);
      if (containers.length) await runner.probe(['docker', 'rm', '--force', '--volumes', ...containers]);
      const networks = (await runner.probe(['docker', 'network', 'ls', '--quiet', '--filter', 'type=custom'])).stdout
        .split('\n')
        .filter(Boolean);
      if (networks.length) await runner.probe(['docker', 'network', 'rm', ...networks]);
      await stopDaemon();
    }
    // A containerd or shim that outlived its dockerd is still ours: it names our exec root.
    for (const leftover of await engineProcesses(daemon.pid, execRoot)) {
      if (leftover.pid !== daemon.pid) {
        try {
          process.kill(leftover.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    await umountLeftovers();
    await cleanupHost();
  };

  const waitAnswering = async () => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const info = await runner.probe(['docker', 'info', '--format', '{{.ServerVersion}}'], { timeoutMs: 5_000 });
      if (info.exitCode === 0) return;
      if (!daemon.running() || Date.now() > deadline) {
        const log = existsSync(logFile) ? await readFile(logFile, 'utf8') : '';
        await stop();
        throw new Error(`the second engine did not start: ${log.trim().split('\n').slice(-8).join(' | ')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };
  await waitAnswering();

  return {
    host: env.DOCKER_HOST,
    env,
    runner,
    get pid() {
      return daemon.pid;
    },
    execRoot,
    dataRoot,
    bridge,
    async rssBytes() {
      return (await engineProcesses(daemon.pid, execRoot)).reduce((sum, p) => sum + p.rssKb * 1024, 0);
    },
    async restart(whileDown) {
      await stopDaemon();
      await whileDown?.();
      const guard = await guardDefaultBridge();
      try {
        daemon = spawnDaemon();
        await waitAnswering();
        // It goes at the restarted daemon's network start; a moment longer covers a slow one.
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      } finally {
        await guard.stop();
      }
    },
    stop,
  };
}

/** Takes a second engine out of its swarm and stops it. Leaving removes the services but not their
 *  containers nor docker_gwbridge (ENGINE-NOTES), which cannot go while a container is still on it. */
export async function leaveSwarmAndStop(vm: SecondEngine): Promise<void> {
  await vm.runner.probe(['docker', 'swarm', 'leave', '--force']);
  const containers = (await vm.runner.probe(['docker', 'ps', '--all', '--quiet'])).stdout.split('\n').filter(Boolean);
  if (containers.length) await vm.runner.probe(['docker', 'rm', '--force', ...containers]);
  await vm.runner.probe(['docker', 'network', 'rm', 'docker_gwbridge']);
  await vm.stop();
}
