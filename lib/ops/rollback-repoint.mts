// Rollback's re-point: which tag is pointed at which recorded image, and whether that image is
// pulled by digest first; the step that moves the tags runs under the deploy lock.
import { dockerPull, dockerTag } from '../commands/docker.mts';
import type { DeployContext } from '../deploy/context.mts';
import { EngineError } from '../core/errors.mts';
import type { Step } from '../core/pipeline.mts';
import type { ImageCheck } from '../releases/availability.mts';
import { shortTag } from '../releases/history.mts';
import type { ReleaseRecord } from '../releases/ledger.mts';

export interface RepointAction {
  service: string;
  /** repo:tag that compose will run. */
  target: string;
  /** What the tag is pointed at: the local image ID, or the digest reference once pulled. */
  source: string;
  /** Digest reference pulled first, when the image is only in the registry. */
  pull?: string;
  /** Pulled if the local image vanished since it was checked (hygiene ran in between). */
  fallback?: string;
  /** The image ID the service must run afterwards, when the ledger knows it. */
  expectedId?: string;
}

export function repointPlan(record: ReleaseRecord, checks: ImageCheck[]): RepointAction[] {
  return checks.map((check) => {
    const target = `${check.repository}:${record.tag}`;
    const expectedId = check.image.id;
    if (check.source === 'local' && check.image.id)
      return {
        service: check.service,
        target,
        source: check.image.id,
        expectedId,
        ...(check.image.digest ? { fallback: check.image.digest } : {}),
      };
    if (check.source === 'registry' && check.image.digest)
      return { service: check.service, target, source: check.image.digest, pull: check.image.digest, expectedId };
    throw new Error(`no image to re-point ${check.service} to`);
  });
}

export function repointCommands(actions: RepointAction[]): string[][] {
  return actions.flatMap((a) => [...(a.pull ? [dockerPull(a.pull)] : []), dockerTag(a.source, a.target)]);
}

/** Runs right after preflight took the lock: the tags move only while no other deploy runs. */
export function repointStep(actions: RepointAction[]): Step<DeployContext> {
  return {
    id: 'repoint',
    title: (ctx) => `re-point ${shortTag(ctx.options.tag)} to the recorded images`,
    skip: (ctx) =>
      ctx.options.dryRun
        ? `dry run: would run ${repointCommands(actions)
            .map((argv) => ctx.runner.format(argv))
            .join(' && ')}`
        : false,
    async run(ctx) {
      const pull = async (action: RepointAction, ref: string) => {
        try {
          await ctx.runner.run(dockerPull(ref), { timeoutMs: 15 * 60_000 });
        } catch (error) {
          throw new EngineError(`cannot pull ${ref} for ${action.service}; no container was changed`, {
            fix: 'check the registry, or roll back to a release whose images are local (scripts/status.mts lists them)',
            cause: error,
          });
        }
      };
      for (const action of actions) {
        if (action.pull) await pull(action, action.pull);
        try {
          await ctx.runner.run(dockerTag(action.source, action.target));
        } catch (error) {
          if (!action.fallback) throw error;
          await pull(action, action.fallback);
          await ctx.runner.run(dockerTag(action.fallback, action.target));
        }
      }
    },
  };
}
