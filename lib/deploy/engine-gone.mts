// The engine went away in the middle of a deploy (restarted by an upgrade, a reboot, an operator).
// Either a step's command says so in the CLI's words ("Cannot connect to the Docker daemon",
// "unexpected EOF"), or a step sees only the effect: its new container exited as the engine
// stopped it, and the old containers it never touched were restarted. Undo waits for the engine
// to answer again before it puts things back, and the deploy's error says what happened in one
// line instead of naming a docker command or blaming the release.
import { EngineError } from '../core/errors.mts';
import { checkEngine, listContainers } from '../engine/engine.mts';
import { engineFault } from '../engine/faults.mts';
import { currentRelease, readLedger } from '../releases/ledger.mts';
import type { DeployContext } from './context.mts';

/** How long undo waits for an engine that went away (a restart takes seconds). */
export const ENGINE_RETURN_MS = 30_000;

/** Waits until the engine answers again, up to ENGINE_RETURN_MS; false when it did not. */
export async function waitForEngine(ctx: Pick<DeployContext, 'runner'>, timeoutMs = ENGINE_RETURN_MS): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (
      await checkEngine(ctx.runner).then(
        () => true,
        () => false,
      )
    )
      return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** What happened to the containers that ran before this deploy, or 'down' when the engine does
 *  not answer. Berth never restarts one of them, and stops one only to remove it (retire, or
 *  Compose recreating a stop-first service), so one that started again was restarted by the
 *  engine, and one that exists but does not run, outside those, was stopped by someone else. */
async function look(ctx: DeployContext, stepId: string): Promise<{ restarted?: string; stopped?: string } | 'down'> {
  try {
    const now = await listContainers(ctx.runner, ctx.product.projectName, undefined, true);
    const pairs = Object.entries(ctx.before).flatMap(([service, before]) =>
      now.flatMap((c) => before.filter((b) => b.id === c.id).map((was) => ({ service, c, was }))),
    );
    const restarted = pairs.find(({ c, was }) => c.running && was.startedAt && c.startedAt && c.startedAt !== was.startedAt);
    const stopped = pairs.find(
      ({ service, c }) => !c.running && stepId !== 'retire' && ctx.journal.started?.replaced[service] !== 'stop-first',
    );
    return { restarted: restarted?.c.name, stopped: stopped?.c.name };
  } catch {
    return 'down';
  }
}

const verdicts = new WeakMap<DeployContext, string | undefined>();

/**
 * Why the engine went away during this failed deploy, in short words, or undefined when it did
 * not. A step may have said so (the CLI lost its daemon), or seen only the effect (its new
 * container exited as the engine stopped it): then the old containers tell. Once the engine is
 * known to have gone, this waits (up to ENGINE_RETURN_MS) until it answers and has restarted
 * them, so undo can put things back. Decided once per deploy: undo asks, then the error line. An
 * error berth has already said in its own words (the pull's) is left as it is.
 */
export async function engineVerdict(ctx: DeployContext, error: unknown, stepId: string): Promise<string | undefined> {
  if (verdicts.has(ctx)) return verdicts.get(ctx);
  if (error instanceof EngineError) return undefined;
  const fault = engineFault(error);
  const said = fault?.kind === 'engine-gone' ? fault.reason : undefined;
  let verdict: string | undefined;
  if (said !== undefined || Object.keys(ctx.before).length > 0) {
    let wentDown = false;
    const deadline = Date.now() + ENGINE_RETURN_MS;
    for (;;) {
      const seen = await look(ctx, stepId);
      if (seen === 'down') wentDown = true;
      else if (seen.restarted) {
        verdict = said ?? `${seen.restarted} was restarted under the deploy`;
        break;
      } else if (!seen.stopped) {
        // Answering, with everything from before running: gone and back, or never gone.
        verdict = said ?? (wentDown ? 'it stopped answering' : undefined);
        break;
      }
      if (Date.now() >= deadline) {
        ctx.ui.warn(
          `${seen === 'down' ? 'the engine did not answer' : `${seen.stopped} did not run again`} within ${ENGINE_RETURN_MS / 1000}s; undoing anyway`,
        );
        verdict = said ?? (wentDown ? 'it stopped answering' : undefined);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  verdicts.set(ctx, verdict);
  return verdict;
}

/** The verdict undo reached, if it asked. */
export function knownVerdict(ctx: DeployContext): string | undefined {
  return verdicts.get(ctx);
}

/** The deploy's error for an engine that went away during `stepId`, once undo has run. */
export function engineGoneError(ctx: Pick<DeployContext, 'product'>, reason: string, stepId: string, cause?: unknown): EngineError {
  const running = currentRelease(readLedger(ctx.product.stateDir))?.tag;
  return new EngineError(
    `the Docker engine went away during the ${stepId} step, restarted or stopped (${reason}); the deploy was undone${running ? `, ${ctx.product.name} still runs ${running}` : ''}`,
    { fix: 'check that it runs again (docker info; systemctl status docker), then deploy again', cause },
  );
}
