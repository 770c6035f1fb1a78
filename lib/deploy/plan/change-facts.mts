// Change detection's facts: what the running containers, git, the ledger and Compose (through the
// runner) say about each targeted service. plan/change-rules.mts decides from them.
//
// The containers come first (plan/running-config.mts): whether each was created from the target's
// resolved config. Only when they cannot say is the config compared through git, as follows.
//
// The config comparison renders the compose files of the deployed commit (`git show` into a temp
// dir) with `config` and compares it, per service, with the target's view that preflight read.
// Both sides use this deploy's IMAGE_TAG, so a new tag alone is no change. Labels were the other
// option (`com.docker.compose.config-hash` against `config --hash`), but Compose v1 hashes the local
// image id and the resolved tag into it and v2 hashes differently, so a tag change or a move from
// v1 to v2 would mark every service changed; `config` output means the same on both.
//
// Last, a service all of that would keep is checked against the registry: the target tag's
// manifest digest must be among its running image's repo digests. The same commit can be built
// again into another image (other build args, a new base image) and git cannot see that.
import { existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { YAML } from 'zx';
import {
  configDifferences,
  configInputs,
  decideService,
  envFilesOf,
  filesUnder,
  imageDigestDiffers,
  replacePath,
  servicePaths,
  SHA,
  shortSha,
  tagOfImage,
  type ChangeDecision,
  type RunFacts,
  type ServiceFacts,
} from './change-rules.mts';
import { composeConfig } from '../../commands/compose.mts';
import { gitChangedFiles, gitRevParse, gitShowFile, gitTracked } from '../../commands/git.mts';
import type { Product } from '../../config/load.mts';
import { envFileIsBerths } from '../compose-env-file.mts';
import { found, type DeployContext } from '../context.mts';
import type { Runner } from '../../core/runner.mts';
import { errorMessage } from '../../core/errors.mts';
import { imageRepoDigests } from '../../engine/images.mts';
import { registryCredentials } from '../../registry/client.mts';
import { createDigestLookup, tagDigests as fromLookup, type TagDigests } from '../../registry/digest-lookup.mts';
import { currentRelease, readLedger } from '../../releases/ledger.mts';
import { runningConfigs, type RunningConfig } from './running-config.mts';

/** Git reads for one repo, each asked once per deploy. */
export class RepoReader {
  private readonly commits = new Map<string, Promise<string | undefined>>();
  private readonly diffs = new Map<string, Promise<string[]>>();
  private readonly runner: Runner;
  readonly dir: string;
  constructor(runner: Runner, dir: string) {
    this.runner = runner;
    this.dir = dir;
  }

  /** The full SHA when `ref` looks like a SHA and is a commit in this repo. */
  commit(ref: string): Promise<string | undefined> {
    if (!SHA.test(ref)) return Promise.resolve(undefined);
    let found = this.commits.get(ref);
    if (!found) {
      found = this.runner.probe(gitRevParse(this.dir, ref)).then((r) => (r.exitCode === 0 ? r.stdout.trim() : undefined));
      this.commits.set(ref, found);
    }
    return found;
  }

  changedFiles(from: string, to?: string, paths: string[] = []): Promise<string[]> {
    const key = `${from}..${to ?? '(work tree)'} ${paths.join('\0')}`;
    let files = this.diffs.get(key);
    if (!files) {
      files = this.runner.read(gitChangedFiles(this.dir, from, to, paths)).then((out) => out.split('\0').filter(Boolean));
      this.diffs.set(key, files);
    }
    return files;
  }

  /** A file's content at a commit; undefined when it did not exist there. */
  async show(ref: string, path: string): Promise<string | undefined> {
    const result = await this.runner.probe(gitShowFile(this.dir, ref, `./${path}`));
    return result.exitCode === 0 ? result.stdout : undefined;
  }

  async tracked(paths: string[]): Promise<Set<string>> {
    const result = await this.runner.probe(gitTracked(this.dir, paths));
    return new Set(result.exitCode === 0 ? result.stdout.split('\0').filter(Boolean) : []);
  }
}

async function readComposeDocs(product: Product): Promise<unknown[]> {
  const docs: unknown[] = [];
  for (const file of product.composeFiles) {
    try {
      docs.push(YAML.parse(await readFile(join(product.repoDir, file), 'utf8')));
    } catch {
      // preflight's `config` already refused compose files that do not parse.
    }
  }
  return docs;
}

/** Compose files, `.env` and env_file entries of the work tree. */
export async function workTreeConfigInputs(product: Product): Promise<string[]> {
  return configInputs(product.composeFiles, envFilesOf(await readComposeDocs(product)));
}

/** Inputs git does not track (a `.env` kept on the VM) that changed after `since`: git cannot say how. */
export async function untrackedChanged(
  git: RepoReader,
  inputs: string[],
  since: string,
  product?: Pick<Product, 'repoDir' | 'stateDir'>,
): Promise<string[]> {
  const sinceMs = Date.parse(since);
  // Only a file touched since the release can matter: most runs ask git nothing here. The .env
  // berth itself wrote when it recorded the release is not a change.
  const berths = (f: string) => f === '.env' && product !== undefined && envFileIsBerths(product);
  const touched = inputs.filter((f) => existsSync(join(git.dir, f)) && statSync(join(git.dir, f)).mtimeMs > sinceMs && !berths(f));
  if (touched.length === 0) return [];
  const tracked = await git.tracked(touched);
  return touched.filter((f) => !tracked.has(f));
}

/** The compose `config` view of every service at `base`, with paths pointing at the repo again. */
async function configAt(ctx: DeployContext, git: RepoReader, base: string): Promise<Record<string, unknown> | string> {
  const temp = await realpath(await mkdtemp(join(tmpdir(), 'berth-config-')));
  try {
    const composeFiles: string[] = [];
    const docs: unknown[] = [];
    for (const file of ctx.product.composeFiles) {
      const text = await git.show(base, file);
      if (text === undefined) continue;
      composeFiles.push(file);
      docs.push(YAML.parse(text));
      await mkdir(dirname(join(temp, file)), { recursive: true });
      await writeFile(join(temp, file), text);
    }
    if (composeFiles.length === 0) return `no compose file existed at ${shortSha(base)}`;
    for (const file of configInputs([], envFilesOf(docs))) {
      const text = await git.show(base, file);
      const current = join(ctx.product.repoDir, file);
      // Not in git at base: the work tree's copy stands in, so it counts as unchanged.
      const content = text ?? (existsSync(current) ? await readFile(current, 'utf8') : undefined);
      if (content === undefined) continue;
      await mkdir(dirname(join(temp, file)), { recursive: true });
      await writeFile(join(temp, file), content);
    }
    const project = { ...found(ctx).project, directory: temp, files: composeFiles.map((f) => join(temp, f)) };
    const result = await ctx.runner.probe(composeConfig(project), { env: ctx.composeEnv });
    if (result.exitCode !== 0) return `its compose files do not render here (${result.stderr.trim().split('\n').pop() ?? ''})`;
    const parsed = YAML.parse(replacePath(result.stdout, temp, ctx.product.repoDir)) as { services?: Record<string, unknown> } | null;
    return parsed?.services ?? {};
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}

/** `tagDigests` stands in for the registry (tests); by default it is asked over its HTTP API. */
export async function detectChanges(
  ctx: DeployContext,
  services: string[],
  tagDigests?: TagDigests,
): Promise<Record<string, ChangeDecision>> {
  if (ctx.options.all) return Object.fromEntries(services.map((name) => [name, decideService({ all: true }, {})]));
  const running = await runningConfigs(ctx, services);
  ctx.running = running;
  const runningFacts = (name: string): ServiceFacts => {
    const verdict = running[name];
    return verdict?.state === 'differs' ? { runningDiffers: verdict.containers } : {};
  };
  const release = shortSha(ctx.options.tag);
  const decide = (run: RunFacts, facts: (name: string) => ServiceFacts = runningFacts) =>
    Object.fromEntries(services.map((name) => [name, decideService({ release, ...run }, facts(name))]));
  const kind = ctx.options.kind ?? 'deploy';
  if (kind !== 'deploy') return decide({ imagesOnly: kind });
  const current = currentRelease(readLedger(ctx.product.stateDir));
  if (!current) return decide({ firstDeploy: true });

  const git = new RepoReader(ctx.runner, ctx.product.repoDir);
  const target = await git.commit(ctx.options.tag);
  if (!target) return decide({ targetProblem: `tag ${ctx.options.tag} is not a commit in ${ctx.product.repoDir}` });

  const facts: Record<string, ServiceFacts> = {};
  for (const name of services) {
    const service = ctx.product.services[name];
    const recorded = current.services[name];
    const fact: ServiceFacts = { paths: servicePaths(service?.build), ...runningFacts(name) };
    facts[name] = fact;
    const stray = (ctx.before[name] ?? []).find((c) => recorded?.id && c.imageId !== recorded.id);
    if (stray && recorded?.id) {
      fact.drift = `runs image ${stray.imageId.slice(7, 19)}, not ${recorded.id.slice(7, 19)} recorded for ${shortSha(current.tag)}`;
    }
    // The commit a service's running image was built from: its own tag when an earlier release
    // kept it, so a change skipped by --only is still seen later.
    const deployedFrom = tagOfImage(recorded?.image);
    const candidate = deployedFrom && SHA.test(deployedFrom) ? deployedFrom : current.tag;
    fact.base = await git.commit(candidate);
    if (!fact.base) fact.baseProblem = `last release ${candidate} is not a commit in ${ctx.product.repoDir}`;
    else if (fact.paths) fact.files = filesUnder(await git.changedFiles(fact.base, target), fact.paths);
    // The containers themselves said their config is the target's: nothing to render from git.
    if (running[name]?.state === 'same') fact.config = [];
  }

  // Where the containers differ, git still says which keys changed (the plan names them); where
  // they cannot say, git is all there is.
  const unknown = Object.entries(facts).filter(([name]) => running[name]?.state !== 'same');
  if (unknown.length > 0) await compareConfigs(ctx, git, running, current.time, unknown);
  await compareImageDigests(ctx, release, facts, tagDigests);
  return decide({}, (name) => facts[name] ?? {});
}

/** Where the containers cannot say, the config at each service's base commit, rendered from git. */
async function compareConfigs(
  ctx: DeployContext,
  git: RepoReader,
  running: Record<string, RunningConfig>,
  since: string,
  unknown: [string, ServiceFacts][],
): Promise<void> {
  const inputs = await workTreeConfigInputs(ctx.product);
  const blind = unknown.some(([name]) => running[name]?.state !== 'differs');
  const untracked = blind ? await untrackedChanged(git, inputs, since, ctx.product) : [];
  if (untracked.length > 0) {
    ctx.ui.warn(
      `${untracked.join(', ')} changed after the last release but git does not track it, so berth cannot tell which services it affects: deploy with --all to apply it`,
    );
  }
  const bases = new Set(unknown.flatMap(([, f]) => (f.base && !f.drift && !f.files?.length ? [f.base] : [])));
  for (const base of bases) {
    // The work tree is what `up` applies, so compare it (not the target commit) with the base.
    const touched = await git.changedFiles(base, undefined, inputs);
    if (touched.length === 0) continue;
    ctx.ui.debug(`${touched.join(', ')} changed since ${shortSha(base)}: comparing the resolved config`);
    const before = await configAt(ctx, git, base);
    for (const [name, fact] of unknown) {
      if (fact.base !== base) continue;
      if (typeof before === 'string') fact.config = [`config at ${shortSha(base)} unknown: ${before}`];
      else fact.config = configDifferences(before[name], found(ctx).compose.services[name]);
    }
  }
}

/**
 * For each service git and config would keep: is the registry's image for the target tag the one
 * it runs? A rebuild with other build args or another base image gives the same commit a new
 * image, which no diff shows. One manifest HEAD per service, all at once. Whatever keeps the
 * registry from answering leaves git's decision standing (a debug line says why): this check
 * never fails a deploy.
 */
async function compareImageDigests(
  ctx: DeployContext,
  release: string,
  facts: Record<string, ServiceFacts>,
  tagDigests: TagDigests | undefined,
): Promise<void> {
  const kept = Object.entries(facts).filter(([, fact]) => !decideService({ release }, fact).changed);
  if (kept.length === 0) return;
  const skipped = ctx.options.offline ? 'offline' : ctx.options.buildOnVm ? '--build-on-vm' : undefined;
  if (skipped) {
    ctx.ui.debug(`${kept.map(([name]) => name).join(', ')}: image not compared with the registry's (${skipped})`);
    return;
  }
  let ask: TagDigests;
  try {
    ask = tagDigests ?? fromLookup(createDigestLookup(ctx.runner, 5_000, registryCredentials(ctx.settings.env)));
  } catch (error) {
    // Half the credentials set: preflight's login refuses that already; nothing to add here.
    ctx.ui.debug(`images not compared with the registry's: ${errorMessage(error)}`);
    return;
  }
  await Promise.all(
    kept.map(async ([name, fact]) => {
      const service = ctx.product.services[name];
      if (!service) return;
      try {
        const answer = await ask(service.repository, ctx.options.tag);
        if (!('digest' in answer)) {
          ctx.ui.debug(`${name}: image not compared with the registry's (${ctx.runner.redact(answer.unknown)})`);
          return;
        }
        const images = [...new Set((ctx.before[name] ?? []).map((c) => c.imageId))];
        const digests = await Promise.all(images.map((id) => imageRepoDigests(ctx.runner, id)));
        const differs = imageDigestDiffers(service.repository, answer.digest, digests);
        if (differs) fact.imageDiffers = differs;
      } catch (error) {
        ctx.ui.debug(`${name}: image not compared with the registry's (${ctx.runner.redact(errorMessage(error))})`);
      }
    }),
  );
}
