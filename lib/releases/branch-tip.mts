// Which release a deploy without --tag means: the tip of the product's deploy branch on its remote,
// fetched now, so `deploy` typed on the VM deploys what was merged last, never whatever the
// checkout happened to hold. CI pushes a commit's images some minutes after the commit lands: until
// then berth refuses, naming the newest commit whose images are all there, or (--wait-for-images)
// polls the registry for them.
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gitFetchBranch, gitFirstParents, gitRemotes, gitRevParse, gitToplevel } from '../commands/git.mts';
import type { Product } from '../config/load.mts';
import { ConfigError, EngineError } from '../core/errors.mts';
import type { Runner } from '../core/runner.mts';
import { BERTH_ROOT } from '../core/settings.mts';
import type { Ui } from '../core/ui.mts';
import { createDigestLookup, type RegistryAnswer } from '../registry/digest-lookup.mts';

/** How far back the newest deployable commit is looked for: CI seldom lags more. */
export const DEPLOYABLE_SEARCH_DEPTH = 20;

export interface TipOptions {
  /** Poll the registry this long for the tip's images (--wait-for-images); 0 or absent: do not wait. */
  waitForImagesMs?: number;
  pollMs?: number;
}

/** berth's own checkout (the example product lives in it): never fetched into nor moved by a deploy. */
export async function isBerthCheckout(runner: Runner, repo: string): Promise<boolean> {
  const top = await runner.probe(gitToplevel(repo));
  return top.exitCode === 0 && resolve(top.stdout.trim()) === resolve(BERTH_ROOT);
}

/** `10m`, `90s`, `1h`, or plain seconds -> ms; undefined when it is none of those. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) return undefined;
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[(match[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(match[1]) * unit);
}

/** The services whose images CI builds per commit: the product's own (http, worker). */
export function ownImages(product: Pick<Product, 'services'>, commit: string): { service: string; ref: string }[] {
  return Object.entries(product.services)
    .filter(([, s]) => s.kind === 'http' || s.kind === 'worker')
    .map(([service, s]) => ({ service, ref: `${s.repository}:${commit}` }));
}

export type Lookup = (ref: string) => Promise<RegistryAnswer>;

/** The services whose image for `commit` the registry does not have; throws when it cannot be asked. */
export async function missingImages(lookup: Lookup, product: Pick<Product, 'services'>, commit: string): Promise<string[]> {
  const answers = await Promise.all(ownImages(product, commit).map(async (i) => ({ ...i, answer: await lookup(i.ref) })));
  const unknown = answers.find((a) => !a.answer.exists && !a.answer.absent);
  if (unknown) {
    throw new EngineError(`cannot tell whether ${commit.slice(0, 12)}'s images were pushed: ${unknown.service}: ${unknown.answer.detail}`, {
      fix: 'make the registry reachable, or pass --tag <sha> of a release whose images this engine has',
    });
  }
  return answers.filter((a) => !a.answer.exists).map((a) => a.service);
}

/** The newest first-parent ancestor of `commit` (itself excluded), within the search depth, whose
 *  images are all in the registry; undefined when there is none. */
export async function newestCompleteCommit(
  runner: Runner,
  lookup: Lookup,
  product: Pick<Product, 'services' | 'repoDir'>,
  commit: string,
): Promise<string | undefined> {
  const history = (await runner.read(gitFirstParents(product.repoDir, commit, DEPLOYABLE_SEARCH_DEPTH))).split('\n').filter(Boolean);
  for (const older of history.slice(1)) {
    if ((await missingImages(lookup, product, older)).length === 0) return older;
  }
  return undefined;
}

/** The remote's branch tip, fetched now; undefined when the repo has no remote (HEAD stands in). */
async function fetchTip(runner: Runner, product: Product): Promise<{ remote: string; tip: string } | undefined> {
  const repo = product.repoDir;
  const [remote] = (await runner.probe(gitRemotes(repo))).stdout.split('\n').filter(Boolean);
  if (!remote) return undefined;
  const fetched = await runner.probe(gitFetchBranch(repo, remote, product.branch), { timeoutMs: 60_000 });
  if (fetched.exitCode !== 0) {
    const why = runner.redact(fetched.stderr.trim().split('\n').at(-1) ?? `exit ${fetched.exitCode}`);
    throw new ConfigError(`cannot fetch ${product.branch} from ${remote} of ${repo} (git: ${why}); nothing was changed`, {
      fix: `fix the remote or the product's branch, or pass --tag <sha> to deploy a commit the checkout has`,
    });
  }
  const tip = await runner.probe(gitRevParse(repo, `refs/remotes/${remote}/${product.branch}^{commit}`));
  return { remote, tip: tip.stdout.trim() };
}

/** The release a deploy without --tag deploys. */
export async function defaultRelease(runner: Runner, product: Product, ui: Ui, options: TipOptions = {}): Promise<string> {
  const repo = product.repoDir;
  const head = async () => {
    const result = await runner.probe(gitRevParse(repo));
    if (result.exitCode !== 0)
      throw new ConfigError(`${repo} is not a git repository, so there is no default release`, { fix: 'pass --tag <sha>' });
    return result.stdout.trim();
  };
  if (await isBerthCheckout(runner, repo)) return head();
  const fetched = await fetchTip(runner, product);
  if (!fetched) {
    const commit = await head();
    ui.info(`${repo} has no remote: deploying its checkout's HEAD ${commit.slice(0, 12)}`);
    return commit;
  }
  const { remote, tip } = fetched;
  const name = `${remote}/${product.branch}`;
  let missing = await missingImages(createDigestLookup(runner), product, tip);
  if (missing.length === 0) {
    ui.info(`deploying ${tip.slice(0, 12)}, the tip of ${name}`);
    return tip;
  }
  const waitMs = options.waitForImagesMs ?? 0;
  if (waitMs > 0) {
    const started = Date.now();
    ui.info(`${tip.slice(0, 12)} (tip of ${name}): waiting up to ${Math.round(waitMs / 1000)} s for CI to push ${missing.join(', ')}`);
    while (missing.length > 0 && Date.now() - started < waitMs) {
      await sleep(Math.min(options.pollMs ?? 5_000, Math.max(0, waitMs - (Date.now() - started))));
      // A fresh lookup each round: its answers are remembered.
      missing = await missingImages(createDigestLookup(runner), product, tip);
    }
    if (missing.length === 0) {
      ui.info(`${tip.slice(0, 12)}'s images are in the registry after ${Math.round((Date.now() - started) / 1000)} s: deploying it`);
      return tip;
    }
  }
  const newest = await newestCompleteCommit(runner, createDigestLookup(runner), product, tip);
  const waited = waitMs > 0 ? ` after waiting ${Math.round(waitMs / 1000)} s` : '';
  const deployable = newest
    ? `the newest commit of ${name} whose images are all there is ${newest.slice(0, 12)}`
    : `none of its last ${DEPLOYABLE_SEARCH_DEPTH} commits has every image`;
  throw new ConfigError(
    `the images of ${tip.slice(0, 12)} (tip of ${name}) are not in the registry yet${waited} (${missing.join(', ')}); ${deployable}; nothing was changed`,
    {
      fix: newest
        ? `deploy --tag ${newest.slice(0, 12)}, or wait for CI with --wait-for-images[=DURATION]`
        : 'check that CI builds and pushes this branch, or wait for it with --wait-for-images[=DURATION]',
    },
  );
}
