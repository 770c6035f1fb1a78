// Host audits: what can fill the disk or the memory. Pure judgements over what the engine
// reports, and the reads that gather it.
import { existsSync, readFileSync, statfsSync, statSync } from 'node:fs';
import { dockerInspect, dockerPsIds, PROJECT_LABEL, SERVICE_LABEL } from '../../commands/docker.mts';
import { dockerLoggingDriver, dockerSystemDf } from '../../commands/images.mts';
import { stackContainersHere } from '../../commands/stack.mts';
import type { CatalogueEntry } from '../../config/catalogue.mts';
import { errorMessage } from '../../core/errors.mts';
import type { Runner } from '../../core/runner.mts';

export interface ContainerHost {
  id: string;
  name: string;
  project: string;
  service: string;
  imageId: string;
  running: boolean;
  logDriver: string;
  logOptions: Record<string, string>;
  logPath: string;
  memoryBytes: number;
  memoryReservationBytes: number;
}

interface HostInspect {
  Id: string;
  Name: string;
  Image: string;
  LogPath?: string;
  State: { Running: boolean };
  Config: { Labels: Record<string, string> | null };
  HostConfig: { LogConfig?: { Type?: string; Config?: Record<string, string> | null }; Memory?: number; MemoryReservation?: number };
}

const STACK_LABEL = 'com.docker.stack.namespace';

/** A swarm task container's service as the compose file names it: Swarm labels it <stack>_<service>. */
function swarmServiceOf(labels: Record<string, string>): string {
  const name = labels['com.docker.swarm.service.name'] ?? '';
  const stack = labels[STACK_LABEL];
  return stack && name.startsWith(`${stack}_`) ? name.slice(stack.length + 1) : name;
}

export function parseHostInspect(json: string): ContainerHost[] {
  return (JSON.parse(json) as HostInspect[]).map((c) => ({
    id: c.Id,
    name: c.Name.replace(/^\//, ''),
    project: c.Config.Labels?.[PROJECT_LABEL] ?? c.Config.Labels?.[STACK_LABEL] ?? '',
    service: c.Config.Labels?.[SERVICE_LABEL] ?? swarmServiceOf(c.Config.Labels ?? {}),
    imageId: c.Image,
    running: c.State.Running,
    logDriver: c.HostConfig.LogConfig?.Type ?? '',
    logOptions: c.HostConfig.LogConfig?.Config ?? {},
    logPath: c.LogPath ?? '',
    memoryBytes: c.HostConfig.Memory ?? 0,
    memoryReservationBytes: c.HostConfig.MemoryReservation ?? 0,
  }));
}

// Drivers whose logs leave the host's docker directory, or that rotate by themselves.
const SHIPPED = ['journald', 'syslog', 'gelf', 'fluentd', 'awslogs', 'splunk', 'etwlogs', 'gcplogs', 'logentries'];

/** Whether a container's logs are bounded. The daemon's log-opts are already merged into each
 *  container's LogConfig when it is created, so this is the truth for that container. */
export function logRotation(driver: string, options: Record<string, string>): { bounded: boolean; how: string } {
  const maxSize = options['max-size'];
  if (driver === 'json-file') {
    if (maxSize && maxSize !== '-1')
      return { bounded: true, how: `json-file, max-size ${maxSize} x max-file ${options['max-file'] ?? '1'}` };
    return { bounded: false, how: 'json-file without max-size: grows until the disk is full' };
  }
  if (driver === 'local') {
    if (maxSize === '-1') return { bounded: false, how: 'local with max-size -1: never rotates' };
    return { bounded: true, how: `local, max-size ${maxSize ?? '20m'} x max-file ${options['max-file'] ?? '5'}` };
  }
  if (driver === 'none') return { bounded: true, how: 'logging off' };
  if (SHIPPED.includes(driver)) return { bounded: true, how: `sent to ${driver} (its own retention)` };
  return { bounded: true, how: `${driver || 'unknown'} driver: check its retention yourself` };
}

export interface LogFinding {
  product: string;
  service: string;
  container: string;
  how: string;
  /** Size of the container's log file now, when readable. */
  logBytes?: number;
  fix: string;
}

export function logFix(service: string, composeFiles: string): string {
  return (
    `add to services.${service} in ${composeFiles}: logging: {driver: json-file, options: {max-size: "10m", max-file: "3"}} ` +
    `(or driver: local) and redeploy; or set "log-opts": {"max-size": "10m", "max-file": "3"} in /etc/docker/daemon.json, ` +
    'restart dockerd and recreate the containers (existing containers keep the options they were created with)'
  );
}

export interface MemoryLine {
  product: string;
  service: string;
  containers: number;
  limitBytes: number;
  reservationBytes: number;
}

export interface MemoryReport {
  hostBytes: number;
  /** Sum over running containers (replicas each count). */
  limitBytes: number;
  reservationBytes: number;
  overcommitted: boolean;
  services: MemoryLine[];
  /** Services with neither a limit nor a reservation: the sum says nothing about them. */
  unbounded: string[];
}

export function memoryReport(containers: (ContainerHost & { product: string })[], hostBytes: number): MemoryReport {
  const lines = new Map<string, MemoryLine>();
  for (const c of containers.filter((x) => x.running)) {
    const key = `${c.product}/${c.service || c.name}`;
    const line = lines.get(key) ?? { product: c.product, service: c.service || c.name, containers: 0, limitBytes: 0, reservationBytes: 0 };
    line.containers += 1;
    line.limitBytes += c.memoryBytes;
    line.reservationBytes += c.memoryReservationBytes;
    lines.set(key, line);
  }
  const services = [...lines.values()];
  const limitBytes = services.reduce((sum, s) => sum + s.limitBytes, 0);
  return {
    hostBytes,
    limitBytes,
    reservationBytes: services.reduce((sum, s) => sum + s.reservationBytes, 0),
    overcommitted: limitBytes > hostBytes,
    services,
    unbounded: services.filter((s) => s.limitBytes === 0 && s.reservationBytes === 0).map((s) => `${s.product}/${s.service}`),
  };
}

export interface DiskReport {
  path: string;
  totalBytes: number;
  freeBytes: number;
  usedPercent: number;
  threshold: number;
  over: boolean;
  /** `docker system df`: what images, containers, volumes and build cache take. */
  docker: { type: string; size: string; reclaimable: string }[];
}

/** Used percent the way df counts it: blocks reserved for root are neither used nor available. */
export function diskUsage(
  stats: { blocks: number; bfree: number; bavail: number; bsize: number },
  path: string,
  threshold: number,
): Omit<DiskReport, 'docker'> {
  const used = (stats.blocks - stats.bfree) * stats.bsize;
  const free = stats.bavail * stats.bsize;
  const usedPercent = used + free > 0 ? Math.round((used / (used + free)) * 1000) / 10 : 0;
  return { path, totalBytes: stats.blocks * stats.bsize, freeBytes: free, usedPercent, threshold, over: usedPercent >= threshold };
}

/** Every container of the catalogue's projects on this engine, stopped and one-off ones too, with
 *  its product: Compose's containers, and on a swarm node the stack's task containers on this node
 *  (their service named as in the compose file). Tasks on other nodes are not seen. */
export async function containersOf(runner: Runner, entries: CatalogueEntry[]): Promise<(ContainerHost & { product: string })[]> {
  const all: (ContainerHost & { product: string })[] = [];
  for (const entry of entries) {
    const compose = (await runner.read(dockerPsIds({ project: entry.projectName, all: true, oneOff: true }))).split('\n').filter(Boolean);
    // Asked of every product, whatever the engine setting says: a product may be on a swarm alone.
    const tasks = (await runner.read(stackContainersHere(entry.projectName))).split('\n').filter(Boolean);
    const ids = [...new Set([...compose, ...tasks])];
    if (ids.length === 0) continue;
    all.push(...parseHostInspect(await runner.read(dockerInspect(ids))).map((c) => ({ ...c, product: entry.name })));
  }
  return all;
}

function daemonLogOpts(path: string): string {
  if (!existsSync(path)) return `no ${path}: the daemon default has no log-opts`;
  try {
    const config = JSON.parse(readFileSync(path, 'utf8')) as { 'log-driver'?: string; 'log-opts'?: Record<string, string> };
    const opts = Object.entries(config['log-opts'] ?? {}).map(([k, v]) => `${k}=${v}`);
    return `${path}: log-driver ${config['log-driver'] ?? '(default)'}, log-opts ${opts.join(' ') || 'none'}`;
  } catch (error) {
    return `${path} unreadable (${errorMessage(error)})`;
  }
}

export interface LogAudit {
  daemonDriver: string;
  daemonLogOpts: string;
  findings: LogFinding[];
  error?: string;
}

/** Running containers whose logs grow without bound, each with its fix; never throws. */
export async function auditLogs(
  runner: Runner,
  containers: (ContainerHost & { product: string })[],
  composeFilesOf: (product: string) => string | undefined,
  daemonJson: string,
): Promise<LogAudit> {
  const logs: LogAudit = { daemonDriver: '', daemonLogOpts: '', findings: [] };
  try {
    const driver = await runner.read(dockerLoggingDriver());
    logs.daemonDriver = JSON.parse(driver) as string;
    logs.daemonLogOpts = daemonLogOpts(daemonJson);
    for (const c of containers.filter((x) => x.running)) {
      const rotation = logRotation(c.logDriver, c.logOptions);
      if (rotation.bounded) continue;
      let logBytes: number | undefined;
      try {
        logBytes = c.logPath ? statSync(c.logPath).size : undefined;
      } catch {
        logBytes = undefined;
      }
      logs.findings.push({
        product: c.product,
        service: c.service,
        container: c.name,
        how: rotation.how,
        ...(logBytes !== undefined ? { logBytes } : {}),
        fix: logFix(c.service, composeFilesOf(c.product) ?? 'the compose file'),
      });
    }
  } catch (error) {
    logs.error = errorMessage(error);
  }
  return logs;
}

/** Use of the disk holding Docker's root directory (or /), and what Docker says it takes there. */
export async function auditDisk(runner: Runner, rootDir: string, threshold: number): Promise<DiskReport> {
  const path = existsSync(rootDir) ? rootDir : '/';
  const df = await runner.probe(dockerSystemDf());
  const docker = df.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { Type: string; Size: string; Reclaimable: string })
    .map((row) => ({ type: row.Type, size: row.Size, reclaimable: row.Reclaimable }));
  return { ...diskUsage(statfsSync(path), path, threshold), docker };
}
