// Following a swarm deploy: every service Swarm gave a new spec is watched until its rolling
// update completes, or Swarm rolls it back or pauses it; a failure is told with Swarm's own
// message, the failed task's errors and health log, and the service's last log lines.
import { serviceLogs, servicePs, stackServiceName, taskContainer } from '../../commands/stack.mts';
import { inspectContainers } from '../../engine/engine.mts';
import { serviceTaskObjects } from '../../engine/swarm.mts';
import { HealthError } from '../../core/errors.mts';
import type { Step } from '../../core/pipeline.mts';
import type { DeployContext } from '../context.mts';
import { failedTask, jsonLines, taskErrors, tasksShort, updateProgress, type SwarmTask, type TaskObject } from '../swarm/updates.mts';
import { inspectStack, swarmOf } from '../swarm/stack-state.mts';
import { flipReady, unpinDoor } from '../swarm/door-switch.mts';
import { startSmokeEarly } from './swarm-smoke.mts';

/** How long berth follows one deploy's updates before it gives up waiting. */
const FOLLOW_TIMEOUT_MS = 10 * 60_000;
// The engine answers these polls through its API (lib/engine/swarm.mts), a few ms each: the
// front door moves within ~0.1 s of the new tasks running.
const POLL_MS = 100;

/** Why a service's update failed: Swarm's own message, its tasks' errors, the failed task's health
 *  log and the service's last log lines. */
async function failureDetails(ctx: DeployContext, service: string, message: string | undefined): Promise<string[]> {
  const name = stackServiceName(ctx.product.projectName, service);
  const image = swarmOf(ctx).images[service];
  const tasks = jsonLines<SwarmTask>((await ctx.runner.probe(servicePs(name))).stdout);
  const failed = image ? failedTask(tasks, image) : undefined;
  let health: string[] = [];
  if (failed?.ID) {
    const container = (await ctx.runner.probe(taskContainer(failed.ID))).stdout.trim();
    if (container) health = (await inspectContainers(ctx.runner, [container]).catch(() => []))[0]?.healthLog.slice(-3) ?? [];
  }
  const logs = (await ctx.runner.probe(serviceLogs(name, 10))).stdout.trim().split('\n').filter(Boolean);
  return [
    ...(message ? [`${service}: ${message}`] : []),
    ...taskErrors(tasks, image).map((line) => `${service}: ${line}`),
    ...health.map((line) => `${service} health log: ${line}`),
    ...logs.slice(-5).map((line) => `${service} log: ${line}`),
  ];
}

/** Polls until every changed service's update ended; a pinned front door is switched to the new
 *  release the moment all its tasks run, and with `smokeEarly` the smoke checks start then.
 *  Fills `outcomes` with the updates Swarm did not complete. */
async function followUpdates(
  ctx: DeployContext,
  outcomes: Record<string, { state: 'rolled-back' | 'paused'; detail: string }>,
  messages: Record<string, string>,
  smokeEarly: boolean,
): Promise<void> {
  const swarm = swarmOf(ctx);
  const since = swarm.startedAt ?? Date.now();
  const pending = new Set(swarm.changed);
  const deadline = Date.now() + FOLLOW_TIMEOUT_MS;
  while (pending.size > 0) {
    const now = await inspectStack(ctx);
    if (swarm.pinned?.length) for (const name of await flipReady(ctx, now)) ctx.ui.debug(`${name}: the front door names the new release`);
    if (smokeEarly && !swarm.smoke) await startSmokeEarly(ctx, now);
    if (swarm.smoke?.failed) {
      // The release failed berth's checks: waiting out Swarm's monitor would only serve it longer.
      // The smoke step reports it, and undo deploys the previous release over this update.
      ctx.ui.debug(`smoke checks failed: not waiting for Swarm to finish updating ${[...pending].join(', ')}`);
      return;
    }
    for (const name of [...pending]) {
      const service = now[name];
      if (!service) {
        pending.delete(name);
        continue;
      }
      const progress = updateProgress(service, since);
      if (progress?.state === 'waiting' && /rollback|rolled back|failure/i.test(progress.detail)) messages[name] = progress.detail;
      if (progress === undefined) {
        // Created by this deploy: up once its tasks run (after their healthcheck passed).
        const tasks = (await serviceTaskObjects(ctx.runner, stackServiceName(ctx.product.projectName, name))) as TaskObject[];
        if (tasksShort(service, tasks) === 0) pending.delete(name);
      } else if (progress.state === 'completed') pending.delete(name);
      else if (progress.state !== 'waiting') {
        outcomes[name] = progress;
        pending.delete(name);
      }
    }
    if (pending.size === 0) break;
    if (Date.now() > deadline) {
      throw new HealthError(`Swarm is still updating ${[...pending].join(', ')} after ${FOLLOW_TIMEOUT_MS / 60_000} minutes`, {
        fix: `see docker service ps ${stackServiceName(ctx.product.projectName, [...pending][0] ?? '')}`,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

function followStep(smokeEarly: boolean): Step<DeployContext> {
  return {
    id: 'follow',
    title: (ctx) => `follow the rolling updates of ${(ctx.swarm?.changed ?? []).join(', ') || 'no service'}`,
    skip(ctx) {
      if (ctx.options.dryRun) return 'dry run: would follow each changed service until its update completes';
      if ((ctx.swarm?.changed ?? []).length === 0) return 'Swarm changed no service';
      return false;
    },
    async run(ctx) {
      const swarm = swarmOf(ctx);
      const outcomes: Record<string, { state: 'rolled-back' | 'paused'; detail: string }> = {};
      // Swarm says why it rolls back only while it does ("update rolled back due to failure or early
      // termination of task ..."); once done, the message is just "rollback completed".
      const messages: Record<string, string> = {};
      let followed = false;
      try {
        await followUpdates(ctx, outcomes, messages, smokeEarly);
        followed = Object.keys(outcomes).length === 0;
      } finally {
        // Rolled back by Swarm, or given up on: the door names whatever runs now, and smoke checks
        // begun on the new release end (their verdict no longer matters) before undo begins.
        if (swarm.pinned?.length || swarm.settling?.length) await unpinDoor(ctx, await inspectStack(ctx));
        if (!followed && swarm.smoke) {
          swarm.smoke.stop();
          await swarm.smoke.verdict;
          swarm.smoke = undefined;
        }
      }
      // What runs the new release now: undo deploys the previous one again should a later step fail.
      ctx.journal.swarmUpdated = (swarm.changed ?? []).filter((name) => !outcomes[name] && swarm.images[name]);
      const failed = Object.keys(outcomes);
      if (failed.length === 0) return;
      ctx.journal.swarmRolledBack = failed.filter((name) => outcomes[name]?.state === 'rolled-back');
      const details = (await Promise.all(failed.map((name) => failureDetails(ctx, name, messages[name])))).flat();
      const summary = failed.map((name) => `${name} ${outcomes[name]?.state} (${outcomes[name]?.detail})`).join('; ');
      // The line naming the failed task says most; Swarm's own message names only a task id.
      const first = details.find((line) => !line.includes(' log: ') && line.includes('): ')) ?? details[0];
      throw new HealthError(`Swarm did not complete the update: ${summary}${first ? `; ${first}` : ''}`, {
        fix: 'fix the release and deploy again; the previous release keeps serving',
        details,
      });
    },
  };
}

/** Each changed service followed to the end of its update: completed, or rolled back by Swarm. */
export const swarmFollow: Step<DeployContext> = followStep(false);

/** The same, starting the smoke checks (the next step, swarmSmoke, waits for their verdict) as soon
 *  as the front door names the new release, so that they overlap Swarm's own monitor window. */
export const swarmFollowAndSmoke: Step<DeployContext> = followStep(true);
