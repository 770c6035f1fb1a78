// A release is a commit: its images and its config. Before anything reads a compose file, the
// product's checkout is put at the release's commit: fetched from its remote when it is not here,
// refused while tracked files have local edits (named; --allow-dirty deploys them as they are, and
// the ledger says so). The checkout is the directory an operator cds into, so it shows what is
// deployed, and a Compose run by hand there runs the deployed release. A tag that is no commit
// of the repo (an image tag) leaves the checkout as it is, and says so.
import {
  gitCheckoutDetached,
  gitCommitTimes,
  gitFetch,
  gitRemotes,
  gitRevParse,
  gitTrackedEdits,
  gitUntracked,
} from '../../commands/git.mts';
import { isBerthCheckout } from '../../releases/branch-tip.mts';
import { CommandError, ConfigError } from '../../core/errors.mts';
import type { Step } from '../../core/pipeline.mts';
import type { Runner } from '../../core/runner.mts';
import type { DeployContext } from '../context.mts';

/** The commit a tag names in the repo, fetching once from its remote when it is not here; and
 *  why a fetch failed, which is no reason to stop (the tag may be an image tag after all). */
export async function releaseCommit(
  runner: Runner,
  repo: string,
  tag: string,
  fetch: boolean,
): Promise<{ commit?: string; fetchFailed?: string }> {
  const local = await runner.probe(gitRevParse(repo, tag));
  if (local.exitCode === 0) return { commit: local.stdout.trim() };
  // Only what can be a SHA is worth a fetch; an image tag like v2 never becomes a commit.
  if (!fetch || !/^[0-9a-f]{7,40}$/.test(tag)) return {};
  const [remote] = (await runner.probe(gitRemotes(repo))).stdout.split('\n').filter(Boolean);
  if (!remote) return {};
  const fetched = await runner.probe(gitFetch(repo, remote), { timeoutMs: 60_000 });
  if (fetched.exitCode !== 0) return { fetchFailed: `git fetch ${remote} failed: ${fetched.stderr.trim().split('\n').at(-1) ?? ''}` };
  const after = await runner.probe(gitRevParse(repo, tag));
  return after.exitCode === 0 ? { commit: after.stdout.trim() } : {};
}

export const checkout: Step<DeployContext> = {
  id: 'checkout',
  title: 'check out the release',
  async run(ctx) {
    const { runner, product, options } = ctx;
    const repo = product.repoDir;
    if (await isBerthCheckout(runner, repo)) {
      ctx.ui.debug(`${repo} is berth's own checkout: its files are used as they are`);
      return;
    }
    const head = (await runner.probe(gitRevParse(repo, 'HEAD'))).stdout.trim() || undefined;
    if (options.imageOnly) {
      ctx.ui.warn(`--image-only: ${options.tag}'s images under the config the checkout has now (${head?.slice(0, 12) ?? 'no commit'})`);
      ctx.release = { config: head };
      return;
    }
    const { commit, fetchFailed } = await releaseCommit(runner, repo, options.tag, !options.dryRun);
    if (fetchFailed) ctx.ui.warn(fetchFailed);
    if (!commit) {
      ctx.ui.info(
        `${options.tag} is not a commit of ${repo}: its compose files are used as the checkout has them${head ? ` (${head.slice(0, 12)})` : ''}`,
      );
      ctx.release = { config: head };
      return;
    }
    const edits = (await runner.read(gitTrackedEdits(repo))).split('\0').filter(Boolean);
    if (edits.length > 0 && !options.allowDirty) {
      throw new ConfigError(`${repo} has local edits to tracked files: ${edits.join(', ')}; nothing was changed`, {
        fix:
          options.kind === 'rollback'
            ? 'commit or stash them, or roll back the images alone with --image-only'
            : 'commit or stash them, or deploy them as they are with --allow-dirty (the ledger records it)',
        details: edits,
      });
    }
    if (edits.length > 0) ctx.ui.warn(`deploying local edits to ${edits.join(', ')} (--allow-dirty, recorded in the ledger)`);
    const kept = (await runner.probe(gitUntracked(repo))).stdout.split('\0').filter(Boolean);
    if (kept.length > 0)
      ctx.ui.debug(
        `files git does not track, used as they are: ${kept.slice(0, 20).join(', ')}${kept.length > 20 ? ` and ${kept.length - 20} more` : ''}`,
      );
    const committedAt = (await runner.probe(gitCommitTimes(repo, [commit]))).stdout.trim().split(' ')[1];
    ctx.release = {
      config: commit,
      ...(edits.length > 0 ? { dirty: edits } : {}),
      ...(committedAt && !Number.isNaN(Date.parse(committedAt)) ? { committedAt } : {}),
    };
    if (commit === head) return;
    if (options.dryRun) {
      ctx.ui.info(
        `dry run: would run ${runner.format(gitCheckoutDetached(repo, commit))}; the plan below reads the compose files the checkout has now (${head?.slice(0, 12) ?? 'none'})`,
      );
      return;
    }
    ctx.journal.checkedOut = { from: head, to: commit };
    try {
      await runner.run(gitCheckoutDetached(repo, commit));
    } catch (error) {
      const why = error instanceof CommandError ? error.stderr.trim().split('\n').slice(0, 3).join(' ') : String(error);
      throw new ConfigError(`cannot check out ${commit.slice(0, 12)} in ${repo} (git: ${why}); nothing was changed`, {
        fix: 'move the files git names out of the way (untracked files the release tracks), then deploy again',
      });
    }
    ctx.ui.info(`${repo}: checked out ${commit.slice(0, 12)} (was ${head?.slice(0, 12) ?? 'nothing'})`);
  },
};

/** Undo: the checkout goes back to the commit it had, so it shows the release still running. */
export async function restoreCheckout(ctx: DeployContext): Promise<void> {
  const moved = ctx.journal.checkedOut;
  if (!moved?.from) return;
  await ctx.runner.run(gitCheckoutDetached(ctx.product.repoDir, moved.from));
  ctx.ui.warn(`${ctx.product.repoDir}: back at ${moved.from.slice(0, 12)}, the release still running`);
}
