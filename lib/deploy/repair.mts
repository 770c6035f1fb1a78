// Repair: reads what the ledger, the routes and the engine say (drift.mts compares them), then
// makes them agree. Run by `scripts/repair.mts`, and at the start of every deploy and rollback
// (steps/repair.mts), so a deploy never meets a proxy that is restarting or routes that name a
// container that is gone. Every engine error met here becomes one line: what berth saw, and what
// it did about it.
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { composeUp } from '../commands/compose.mts';
import { dockerLogs, dockerRestart, dockerRm } from '../commands/docker.mts';
import { found, type DeployContext } from './context.mts';
import { compareDrift, imageTag, type Drift, type DriftInput, type DriftProxy, type RepairAction } from './drift.mts';
import { routedName } from './edge.mts';
import { waitHealthy } from './health.mts';
import { handOver, waitForLookups } from './handover.mts';
import { dialAddress, publishUpstreams, readUpstreams, upstreamFile, writeUpstreams } from './proxy.mts';
import { buildCommits, smokeThroughProxy } from './steps/smoke.mts';
import { currentImages, releaseRecord, writeReleaseEnv } from './steps/record.mts';
import { findProxy, ownsEdge, proxyLabel, proxyService, servicePort, switchedServices, usesEdge } from './topology.mts';
import { engineSaw, inspectContainers, listContainers, type ContainerState } from '../engine/engine.mts';
import { BerthError, CommandError, EngineError, errorLine, HealthError } from '../core/errors.mts';
import type { Runner } from '../core/runner.mts';
import { appendRelease, currentRelease, ledgerPath, readLedger } from '../releases/ledger.mts';

type Reading = Pick<DeployContext, 'product' | 'runner'>;

/** The last thing a container logged, as one short line (Caddy logs JSON: its error or message). */
export function lastLogLine(text: string): string | undefined {
  const line = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .at(-1);
  if (!line) return undefined;
  try {
    const json = JSON.parse(line) as { error?: string; msg?: string };
    return (json.error ?? json.msg ?? line).slice(0, 300);
  } catch {
    return line.slice(0, 300);
  }
}

async function lastLog(runner: Runner, container: ContainerState): Promise<string | undefined> {
  const logs = await runner.probe(dockerLogs(container.id, 5));
  return lastLogLine(`${logs.stdout}\n${logs.stderr}`);
}

/** The proxy the product's routes go through, its newest container running or not. */
async function readProxy(ctx: Reading, containers: ContainerState[]): Promise<DriftProxy | undefined> {
  const edge = ctx.product.edge;
  const label = proxyLabel(ctx);
  let service: string | undefined;
  let candidates: ContainerState[];
  if (usesEdge(ctx) && edge && !ownsEdge(ctx)) {
    candidates = await listContainers(ctx.runner, edge.project, edge.service, true);
  } else {
    service = proxyService(ctx);
    if (!service) return undefined;
    candidates = containers.filter((c) => c.service === service);
  }
  let container = candidates.filter((c) => c.running).at(-1) ?? candidates.at(-1);
  // A crash-looping container reads "running" for the instants its process lives: one that has
  // restarted before is looked at again a moment later.
  if (container?.running && container.restartCount > 0) {
    await sleep(600);
    const [again] = await inspectContainers(ctx.runner, [container.id]);
    if (again && (again.restartCount !== container.restartCount || again.status !== 'running'))
      container = { ...again, status: 'restarting' };
  }
  const down = container && (!container.running || container.status === 'restarting');
  return {
    label,
    ...(service ? { service } : {}),
    ...(container ? { container } : {}),
    ...(container && down ? { lastLog: await lastLog(ctx.runner, container) } : {}),
  };
}

/** What repair compares, read from the state dir and the engine. */
export async function readDrift(ctx: Reading): Promise<DriftInput> {
  const { product } = ctx;
  const containers = await listContainers(ctx.runner, product.projectName, undefined, true);
  const services = switchedServices(ctx).map((name) => ({
    name,
    port: servicePort(ctx, name),
    routedName: routedName(product.projectName, name),
  }));
  const routes = Object.fromEntries(
    services.map(({ name }) => {
      const file = upstreamFile(product, name);
      return [name, existsSync(file) ? readFileSync(file, 'utf8') : undefined];
    }),
  );
  return {
    product: product.name,
    services,
    records: existsSync(ledgerPath(product.stateDir)) ? readLedger(product.stateDir) : undefined,
    routes,
    containers,
    proxy: await readProxy(ctx, containers),
  };
}

export async function productDrift(ctx: Reading): Promise<Drift> {
  return compareDrift(await readDrift(ctx));
}

/** What one repair did: the drift it found, one line per thing done, and what it could not mend. */
export interface RepairOutcome {
  product: string;
  findings: string[];
  did: string[];
  problems: string[];
}

export interface RepairOptions {
  /** Record a release it adopted and verified (the standalone command); a deploy records its own. */
  record: boolean;
}

/** A line for dry-run: what an action would do. */
export function describeAction(ctx: Pick<DeployContext, 'product' | 'runner'>, action: RepairAction): string {
  switch (action.kind) {
    case 'remove':
      return `${action.service}: remove ${action.containers.map((c) => c.name).join(', ')} (left by an interrupted deploy)`;
    case 'write-routes':
      return `${action.service}: write ${upstreamFile(ctx.product, action.service)} naming ${action.addresses.join(' ')}, then reload the proxy`;
    case 'hand-over':
      return `${action.service}: give ${routedName(ctx.product.projectName, action.service)} to ${action.container.name}`;
    case 'start-proxy':
      return `start ${action.service} through Compose with the ledger's IMAGE_TAG, REGISTRY and BERTH_UPSTREAMS (then restart it if it still does not run)`;
    case 'verify':
      return `${action.service}: check health and smoke of ${action.containers.map((c) => c.name).join(', ')} (${action.tag ?? 'unknown tag'}) before ${action.fallback ? `removing ${action.fallback.name}` : 'recording it'}`;
  }
}

/** Until the container runs and stays up for `settleMs` (a crash-looping Caddy exits within
 *  milliseconds of starting); false when it exits or restarts meanwhile. */
async function staysUp(runner: Runner, id: string, settleMs = 1_500): Promise<boolean> {
  const until = Date.now() + settleMs;
  let first: ContainerState | undefined;
  while (Date.now() < until) {
    const [now] = await inspectContainers(runner, [id]);
    if (!now || !now.running || now.status !== 'running') return false;
    first ??= now;
    if (now.restartCount !== first.restartCount) return false;
    await sleep(100);
  }
  return true;
}

/** The product's own proxy back up: Compose first (creates a missing one, recreates one whose
 *  config or mounts differ from berth's), then a restart when Compose left it restarting or stopped. */
async function startProxy(ctx: DeployContext, service: string, env: Record<string, string>, did: string[]): Promise<ContainerState> {
  const label = proxyLabel(ctx);
  await ctx.runner.run(composeUp(found(ctx).project, [service], { noDeps: true }), { env, timeoutMs: 5 * 60_000 });
  let proxy = (await listContainers(ctx.runner, ctx.product.projectName, service, true)).at(-1);
  if (proxy && (await staysUp(ctx.runner, proxy.id))) {
    did.push(`${label}: started through Compose with IMAGE_TAG=${env.IMAGE_TAG}`);
    return proxy;
  }
  if (proxy) {
    const why = await lastLog(ctx.runner, proxy);
    did.push(`${label}: still not running after Compose (${why ?? proxy.status}); restarting it`);
    await ctx.runner.run(dockerRestart(proxy.id), { timeoutMs: 60_000 });
    if (await staysUp(ctx.runner, proxy.id)) {
      did.push(`${label}: restarted and running`);
      return (await inspectContainers(ctx.runner, [proxy.id]))[0] ?? proxy;
    }
    proxy = (await inspectContainers(ctx.runner, [proxy.id]))[0] ?? proxy;
  }
  const why = proxy ? await lastLog(ctx.runner, proxy) : 'no container was created';
  throw new EngineError(`${label} keeps exiting after berth started and restarted it: ${why ?? proxy?.status ?? 'no log'}`, {
    fix: `fix what its log says (docker logs ${proxy?.name ?? service}), then run scripts/repair.mts ${ctx.product.name}`,
  });
}

/** Makes the proxy serve the upstream files as they are now. A reload the engine refuses (the
 *  proxy is restarting, or its mounted directory was replaced) becomes a restart, said in one line. */
async function publish(ctx: DeployContext, did: string[]): Promise<void> {
  const proxy = found(ctx).proxy;
  try {
    if (await publishUpstreams(ctx, proxy)) did.push(`${proxyLabel(ctx)}: reloaded`);
  } catch (error) {
    if (!proxy || (usesEdge(ctx) && !ownsEdge(ctx))) throw error;
    did.push(`${proxyLabel(ctx)}: reload failed (${engineSaw(error)}); restarting it so it reads its routes again`);
    await ctx.runner.run(dockerRestart(proxy.id), { timeoutMs: 60_000 });
    if (!(await staysUp(ctx.runner, proxy.id))) {
      throw new EngineError(`${proxyLabel(ctx)} does not stay up after a restart: ${(await lastLog(ctx.runner, proxy)) ?? 'no log'}`, {
        fix: `see docker logs ${proxy.name}; fix its config and run scripts/repair.mts ${ctx.product.name}`,
      });
    }
    did.push(`${proxyLabel(ctx)}: restarted and running`);
  }
}

/** Health, then smoke through the proxy, of containers serving a release the ledger never accepted. */
async function verify(ctx: DeployContext, action: Extract<RepairAction, { kind: 'verify' }>): Promise<string | undefined> {
  const service = ctx.product.services[action.service];
  if (!service) return `no service ${action.service}`;
  try {
    for (const container of action.containers) await waitHealthy(ctx.runner, container, service);
  } catch (error) {
    return errorLine(error);
  }
  const proxy = found(ctx).proxy;
  if (!proxy) return 'the proxy is not running, so smoke checks cannot run';
  const builtFrom = await buildCommits({ ...ctx, fresh: { [action.service]: action.containers } });
  const failure = await smokeThroughProxy(ctx, proxy, { tag: action.tag ?? ctx.options.tag, builtFrom });
  return failure ? `smoke check failed: ${failure}` : undefined;
}

/** Records a release repair adopted and verified: what runs now, as the ledger's newest `ok`. */
function recordAdopted(ctx: DeployContext, tag: string, services: string[], images: Awaited<ReturnType<typeof currentImages>>): void {
  const plan = Object.fromEntries(services.map((s) => [s, { action: 'replace' as const, reason: 'adopted by repair' }]));
  appendRelease(ctx.product.stateDir, releaseRecord({ ...ctx, options: { ...ctx.options, tag, kind: 'repair' }, plan }, 'ok', images));
}

/** The environment Compose needs to start the proxy as berth deployed it: the ledger's release. */
export function repairEnv(ctx: Pick<DeployContext, 'product' | 'composeEnv'>, containers: ContainerState[]): Record<string, string> {
  const current = currentRelease(readLedger(ctx.product.stateDir))?.tag;
  const running = containers.map((c) => imageTag(c.image)).find((t) => t && t !== 'latest');
  return { ...ctx.composeEnv, IMAGE_TAG: current ?? running ?? ctx.composeEnv.IMAGE_TAG ?? 'latest' };
}

/**
 * Applies a drift's actions in order: orphans, routes, the proxy, then the release re-check.
 * Under dry-run, says what it would do. Throws (one line) only when a deploy cannot go on: the
 * proxy will not stay up, or a release the deploy would record failed its re-check with nothing
 * to go back to.
 */
export async function applyRepair(ctx: DeployContext, drift: Drift, options: RepairOptions): Promise<RepairOutcome> {
  const outcome: RepairOutcome = { product: ctx.product.name, findings: drift.findings.map((f) => f.line), did: [], problems: [] };
  const { did } = outcome;
  if (ctx.options.dryRun) {
    outcome.did.push(...drift.actions.map((a) => `would ${describeAction(ctx, a)}`));
    return outcome;
  }
  const preflight = found(ctx);
  let routesChanged = false;
  let proxyStarted = false;
  const env = drift.actions.some((a) => a.kind === 'start-proxy')
    ? repairEnv(ctx, await listContainers(ctx.runner, ctx.product.projectName))
    : ctx.composeEnv;
  // Every engine error becomes one line: what berth was doing, what the engine said.
  const attempt = async (what: string, work: () => Promise<void>): Promise<void> => {
    try {
      await work();
    } catch (error) {
      if (error instanceof BerthError && !(error instanceof CommandError)) throw error;
      throw new EngineError(`repair of ${ctx.product.name} could not ${what}: ${engineSaw(error)}`, {
        fix: `see docker ps -a --filter label=com.docker.compose.project=${ctx.product.projectName}; then run scripts/repair.mts ${ctx.product.name} again`,
      });
    }
  };
  for (const action of drift.actions) await attempt(describeAction(ctx, action), () => applyAction(action));
  if (routesChanged && !proxyStarted) await attempt(`reload ${proxyLabel(ctx)}`, () => publish(ctx, did));
  if (proxyStarted || routesChanged) preflight.proxy = (await findProxy(ctx)) ?? preflight.proxy;
  // The standalone command puts the checkout's .env back on the ledger's release (a lost or
  // edited one, or the release it just adopted); a deploy's record step writes it for the release
  // it deploys, so doing it here too would be a second write, and a git spawn, on every deploy.
  const current = options.record ? currentRelease(readLedger(ctx.product.stateDir)) : undefined;
  if (current) await writeReleaseEnv({ ...ctx, composeEnv: { ...ctx.composeEnv, IMAGE_TAG: current.tag } });
  return outcome;

  async function applyAction(action: RepairAction): Promise<void> {
    switch (action.kind) {
      case 'remove':
        await ctx.runner.run(
          dockerRm(
            action.containers.map((c) => c.id),
            { force: true },
          ),
        );
        did.push(`${action.service}: removed ${action.containers.map((c) => c.name).join(', ')} (left by an interrupted deploy)`);
        break;
      case 'write-routes':
        writeUpstreams(ctx.product, action.service, action.addresses);
        did.push(`${action.service}: upstreams set to ${action.addresses.join(' ')}`);
        routesChanged = true;
        break;
      case 'hand-over': {
        // Named before the handover renames it to the routed name.
        const holder = action.container.name;
        await handOver(ctx, action.service, action.container);
        did.push(`${action.service}: ${routedName(ctx.product.projectName, action.service)} given to ${holder}`);
        break;
      }
      case 'start-proxy':
        preflight.proxy = await startProxy(ctx, action.service, env, did);
        proxyStarted = true;
        break;
      case 'verify': {
        // The routes are right and the proxy is up before a smoke check asks through it.
        if (routesChanged && !proxyStarted) await publish(ctx, did);
        routesChanged = false;
        const failure = await verify(ctx, action);
        const tag = action.tag ?? 'its release';
        if (!failure) {
          did.push(`${action.service}: ${tag} passed its health and smoke checks`);
          if (action.fallback) {
            await ctx.runner.run(dockerRm([action.fallback.id], { force: true }));
            did.push(`${action.service}: removed ${action.fallback.name} (the release before, no longer needed)`);
          }
          if (options.record) {
            recordAdopted(ctx, tag, [action.service], await currentImages(ctx));
            did.push(`${action.service}: recorded ${tag} as ok in the ledger`);
          }
          break;
        }
        if (action.fallback) {
          const port = servicePort(ctx, action.service);
          const routed = `${routedName(ctx.product.projectName, action.service)}:${port}`;
          if (readUpstreams(ctx.product, action.service)?.join(' ') === routed) {
            // Routed by name: the name goes back to the ledger's release, and the proxy follows with no reload.
            await handOver(ctx, action.service, action.fallback);
            await waitForLookups();
          } else {
            const address = dialAddress(action.fallback, preflight.proxy, port);
            writeUpstreams(ctx.product, action.service, address ? [address] : []);
            await publish(ctx, did);
          }
          await ctx.runner.run(
            dockerRm(
              action.containers.map((c) => c.id),
              { force: true },
            ),
          );
          did.push(
            `${action.service}: ${tag} failed its re-check (${failure}); traffic is back on ${action.fallback.name}, the ledger's release`,
          );
          break;
        }
        const line = `${action.service}: ${tag} failed its re-check (${failure}) and no container of the ledger's release runs`;
        if (!options.record)
          throw new HealthError(line, {
            fix: `deploy a release that passes, or roll back: scripts/rollback.mts ${ctx.product.name} --previous`,
          });
        outcome.problems.push(line);
        break;
      }
    }
  }
}
