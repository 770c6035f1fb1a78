// Whether each service's running containers were created from the target's resolved config,
// image aside (`compare` checks the image by id). Read from the containers themselves, not from
// the ledger: a config that never reached them (a Compose run by hand, local edits deployed with
// --allow-dirty and reverted since) is seen, and that service is redeployed.
//
// A replica berth started carries berth's own digest of the config (replica/labels.mts). A
// container Compose created carries Compose's config hash, which mixes in the image reference
// (v2) or the image id (v1); so Compose is asked for the target's hash with each service's image
// set to the one its container runs: equal hashes mean the same config.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { YAML } from 'zx';
import { composeConfigHash, parseConfigHashes } from '../../commands/compose.mts';
import type { ContainerState } from '../../engine/engine.mts';
import { found, type DeployContext } from '../context.mts';
import { BERTH_CONFIG_LABEL, COMPOSE_LABELS, configDigest } from '../replica/labels.mts';

export type RunningConfig =
  | { state: 'same' }
  | { state: 'differs'; containers: string[] }
  /** Not known (no label to compare, Compose did not answer): change detection decides from git. */
  | { state: 'unknown'; why: string };

/** The verdict for one service from its containers, given the target's digest and Compose's hashes. */
export function judgeContainers(
  containers: ContainerState[],
  digest: string,
  composeHash: ((image: string) => string | undefined) | undefined,
): RunningConfig {
  const differs: string[] = [];
  for (const c of containers) {
    const own = c.labels[BERTH_CONFIG_LABEL];
    if (own !== undefined) {
      if (own !== digest) differs.push(c.name);
      continue;
    }
    const label = c.labels[COMPOSE_LABELS.configHash];
    const hash = composeHash?.(c.image);
    if (!label || !hash) return { state: 'unknown', why: `${c.name} has no config label berth can compare` };
    if (label !== hash) differs.push(c.name);
  }
  return differs.length ? { state: 'differs', containers: differs } : { state: 'same' };
}

/** Compose's hash of each service's target config with its image set to `images[service]`. */
async function composeHashes(ctx: DeployContext, images: Record<string, string>): Promise<Record<string, string> | string> {
  const { project, compose } = found(ctx);
  if (!compose.rendered) return 'no rendered config';
  const doc = YAML.parse(compose.rendered) as { services?: Record<string, Record<string, unknown>> };
  for (const [service, image] of Object.entries(images)) {
    const config = doc.services?.[service];
    if (config) config.image = image;
  }
  // A file, not stdin: Compose v1 reads `-f -` as an empty document here.
  const dir = await mkdtemp(join(tmpdir(), 'berth-hash-'));
  try {
    const file = join(dir, 'rendered.yaml');
    await writeFile(file, YAML.stringify(doc), { mode: 0o600 });
    const result = await ctx.runner.probe(composeConfigHash({ ...project, files: [file] }, Object.keys(images)), {
      env: ctx.composeEnv,
      timeoutMs: 60_000,
    });
    if (result.exitCode !== 0) return `compose config --hash failed: ${result.stderr.trim().split('\n').at(-1) ?? ''}`;
    return parseConfigHashes(result.stdout);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Each running service's verdict; services with no running container are left out. */
export async function runningConfigs(ctx: DeployContext, services: string[]): Promise<Record<string, RunningConfig>> {
  const { compose } = found(ctx);
  const verdicts: Record<string, RunningConfig> = {};
  // Compose is asked only for containers without berth's label, once for all of them.
  const images: Record<string, string> = {};
  for (const service of services) {
    for (const c of ctx.before[service] ?? []) if (c.labels[BERTH_CONFIG_LABEL] === undefined) images[service] ??= c.image;
  }
  const hashes = Object.keys(images).length ? await composeHashes(ctx, images) : {};
  if (typeof hashes === 'string') ctx.ui.debug(`running config: ${hashes}`);
  for (const service of services) {
    const containers = ctx.before[service] ?? [];
    const config = compose.services[service];
    if (containers.length === 0) continue;
    if (!config) {
      verdicts[service] = { state: 'unknown', why: 'preflight read no compose config for it' };
      continue;
    }
    const lookup = typeof hashes === 'string' ? undefined : (image: string) => (image === images[service] ? hashes[service] : undefined);
    verdicts[service] = judgeContainers(containers, configDigest(config), lookup);
  }
  return verdicts;
}
