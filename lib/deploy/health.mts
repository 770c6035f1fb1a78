// Waiting for a new container to be ready. An HTTP probe on the container itself answers sooner
// than Docker's healthcheck (whose first run waits one full interval), so it wins when the
// product names a path; Docker's verdict still counts when it says unhealthy.
import { setTimeout as sleep } from 'node:timers/promises';
import { dockerLogs } from '../commands/docker.mts';
import type { Service } from '../config/load.mts';
import { inspectContainers, type ContainerState } from '../engine/engine.mts';
import { HealthError } from '../core/errors.mts';
import { throwIfInterrupted } from '../core/interrupt.mts';
import type { Runner } from '../core/runner.mts';

const DEFAULT_DEADLINE_MS = 60_000;

/** How long a container may take: the service's own setting, else what its healthcheck allows. */
export function healthDeadlineMs(container: Pick<ContainerState, 'healthcheck'>, service: Pick<Service, 'health'>): number {
  if (service.health?.timeoutSeconds) return service.health.timeoutSeconds * 1000;
  const hc = container.healthcheck;
  if (!hc) return DEFAULT_DEADLINE_MS;
  // Docker runs the first check one interval after start, then marks unhealthy after `retries`
  // failures; one more interval of slack covers a slow engine.
  return Math.max(5_000, hc.startPeriodMs + (hc.intervalMs + hc.timeoutMs) * (hc.retries + 1) + hc.intervalMs);
}

export function containerAddress(container: ContainerState): string | undefined {
  return Object.values(container.networks).find(Boolean);
}

export async function probeHttp(url: string, timeoutMs = 1_000): Promise<{ ok: boolean; status: number; body: string }> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const body = await response.text();
    return { ok: response.ok, status: response.status, body };
  } catch {
    return { ok: false, status: 0, body: '' };
  }
}

export interface WaitOptions {
  pollMs?: number;
  deadlineMs?: number;
  onProgress?: (text: string) => void;
}

export async function waitHealthy(
  runner: Runner,
  container: ContainerState,
  service: Service,
  options: WaitOptions = {},
): Promise<ContainerState> {
  const deadlineMs = options.deadlineMs ?? healthDeadlineMs(container, service);
  const pollMs = options.pollMs ?? 50;
  const started = Date.now();
  let current = container;
  let lastHttp = '';
  let inspectedAt = 0;
  const httpPath = service.health?.path && service.health.port ? service.health : undefined;
  while (Date.now() - started < deadlineMs) {
    throwIfInterrupted();
    // docker inspect costs ~50 ms; an HTTP probe ~1 ms: probe often, inspect now and then.
    if (!httpPath || Date.now() - inspectedAt >= 500) {
      [current = current] = await inspectContainers(runner, [container.id]);
      inspectedAt = Date.now();
      if (!current.running || current.health === 'unhealthy') break;
    }
    const address = containerAddress(current);
    if (httpPath && address) {
      const url = `http://${address}:${httpPath.port}${httpPath.path}`;
      const probe = await probeHttp(url);
      lastHttp = `${url} -> ${probe.status || 'no answer'}`;
      if (probe.ok) return current;
    } else if (current.health === 'healthy') {
      return current;
    } else if (
      current.health === 'none' &&
      !current.healthcheck &&
      Date.now() - started >= 1_000 &&
      current.restartCount === container.restartCount
    ) {
      // No healthcheck and no HTTP path: a container still running after a second is all we can know.
      return current;
    }
    options.onProgress?.(
      `${service.name}: ${current.health === 'none' ? current.status : current.health}, ${Math.round((Date.now() - started) / 1000)}s of ${Math.round(deadlineMs / 1000)}s`,
    );
    await sleep(httpPath ? pollMs : 100);
  }
  const logs = await runner.probe(dockerLogs(container.id, 40));
  const why = !current.running
    ? `exited (${current.status})`
    : current.health === 'unhealthy'
      ? 'is unhealthy'
      : `not healthy after ${Math.round(deadlineMs / 1000)}s`;
  throw new HealthError(`${service.name} (${current.name}) ${why}`, {
    fix: 'see the health log and container logs below; the release was not accepted',
    details: [
      ...(current.healthLog.length ? ['health log:', ...current.healthLog.slice(-5)] : []),
      ...(lastHttp ? [`last probe: ${lastHttp}`] : []),
      `last log lines of ${current.name}:`,
      ...`${logs.stdout}${logs.stderr}`.trim().split('\n').slice(-40),
    ],
  });
}
