// The plan of a product with nothing to do, found without Compose: deploy-all settles most
// products this way.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SHA, shortSha, tagOfImage } from './change-rules.mts';
import { RepoReader, untrackedChanged, workTreeConfigInputs } from './change-facts.mts';
import { dockerPsComposeIds, PROJECT_LABEL } from '../../commands/docker.mts';
import { gitStatusOf } from '../../commands/git.mts';
import type { Product } from '../../config/load.mts';
import type { ServicePlan } from '../context.mts';
import { inspectContainers, listContainers, type ContainerState } from '../../engine/engine.mts';
import type { Runner } from '../../core/runner.mts';
import { configIdentity } from '../replica/labels.mts';
import { currentRelease, readLedger, type ReleaseRecord } from '../../releases/ledger.mts';
import type { TagDigests } from '../../registry/digest-lookup.mts';

export function sameRelease(recorded: string, tag: string): boolean {
  return recorded === tag || (SHA.test(recorded) && SHA.test(tag) && (tag.startsWith(recorded) || recorded.startsWith(tag)));
}

export interface QuickPlan {
  /** Set when nothing changed: every service kept, each with its reason. */
  plan?: Record<string, ServicePlan>;
  /** Why the full plan is needed, when it is. */
  why?: string;
  release?: ReleaseRecord;
}

/**
 * The plan of a product with nothing to do, found without Compose (whose v1 costs ~0.5 s a call):
 * the target is the release recorded as deployed, no config input changed since, and every service
 * runs the image and the config (its containers' labels) that release recorded. Anything else needs the full plan. `snapshot` (from
 * composeContainers) saves each product its own `docker ps` and `docker inspect`.
 */
export async function quickPlan(
  product: Product,
  tag: string,
  runner: Runner,
  snapshot?: ContainerState[],
  ask?: TagDigests,
): Promise<QuickPlan> {
  if (existsSync(join(product.stateDir, 'lock'))) return { why: 'another deploy holds the lock' };
  const release = currentRelease(readLedger(product.stateDir));
  if (!release) return { why: 'no release recorded' };
  if (!sameRelease(release.tag, tag)) return { why: `${shortSha(tag)} is not the deployed release ${shortSha(release.tag)}`, release };
  const git = new RepoReader(runner, product.repoDir);
  const inputs = await workTreeConfigInputs(product);
  const dirty = await runner.probe(gitStatusOf(product.repoDir, inputs));
  if (dirty.exitCode !== 0 || dirty.stdout.trim()) return { why: 'config files differ from the deployed commit', release };
  const untracked = await untrackedChanged(git, inputs, release.time, product);
  if (untracked.length > 0) return { why: `${untracked.join(', ')} changed after the last release`, release };
  const containers = snapshot
    ? snapshot.filter((c) => c.labels[PROJECT_LABEL] === product.projectName)
    : await listContainers(runner, product.projectName);
  const running = containers.filter((c) => c.running);
  const plan: Record<string, ServicePlan> = {};
  for (const name of Object.keys(product.services)) {
    const recorded = release.services[name];
    const containers = running.filter((c) => c.service === name);
    if (!recorded?.id || containers.length === 0) return { why: `${name} is not running`, release };
    const other = containers.find((c) => c.imageId !== recorded.id || c.health === 'unhealthy');
    if (other) return { why: `${name} does not run the recorded image healthily`, release };
    if (recorded.config && containers.some((c) => configIdentity(c.labels) !== recorded.config))
      return { why: `${name} runs another config than the release recorded`, release };
    plan[name] = { action: 'keep', reason: `unchanged since ${shortSha(tagOfImage(recorded.image) ?? release.tag)}` };
  }
  const rebuilt = ask ? await rebuiltInRegistry(product, tag, release, ask) : undefined;
  if (rebuilt) return { why: `the registry's ${rebuilt}:${shortSha(tag)} is another image than the one running (rebuilt)`, release };
  return { plan, release };
}

/**
 * The first service whose image the registry now names differently under the release's tag than
 * the digest the ledger recorded: the same commit pushed again with other build args or another
 * base. As in the full plan's rule, a registry that cannot answer leaves the quick plan standing.
 */
async function rebuiltInRegistry(product: Product, tag: string, release: ReleaseRecord, ask: TagDigests): Promise<string | undefined> {
  const answers = await Promise.all(
    Object.entries(product.services).map(async ([name, service]) => {
      const recorded = release.services[name]?.digest;
      if (!recorded || !recorded.startsWith(`${service.repository}@`)) return undefined;
      const answer = await ask(service.repository, tag).catch(() => ({ unknown: 'no answer' }));
      return 'digest' in answer && `${service.repository}@${answer.digest}` !== recorded ? name : undefined;
    }),
  );
  return answers.find(Boolean);
}

/** Every Compose-managed container on the engine, read once for all products of a deploy-all. */
export async function composeContainers(runner: Runner): Promise<ContainerState[]> {
  const ids = (await runner.read(dockerPsComposeIds())).split('\n').filter(Boolean);
  return inspectContainers(runner, ids);
}
