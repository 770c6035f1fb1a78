// Rollback to a recorded release: find it in the ledger, prove every image it names is still on
// this engine (by image ID) or in the registry (by digest) before anything changes, re-point the
// release's tag to exactly those images, then switch through the deploy pipeline itself, so a
// rollback is locked, health-checked, recorded and as gapless as any deploy. Local images mean no
// registry call at all: a rollback works while the registry is down.
import { dockerPull, dockerTag } from '../commands/docker.mts';
import { dockerImagesJson, dockerManifestInspect } from '../commands/images.mts';
import type { Product, Settings } from '../config/load.mts';
import type { DeployContext } from '../deploy/context.mts';
import { createDeployContext, deployPhases, deployProduct, succeeded, type DeployPhases } from '../deploy/deploy-product.mts';
import { listContainers } from '../engine/engine.mts';
import { BerthError, EngineError, UsageError } from '../core/errors.mts';
import type { Step } from '../core/pipeline.mts';
import type { Runner } from '../core/runner.mts';
import { registryBaseUrl } from '../deploy/steps/preflight.mts';
import { currentRelease, readLedger, type ReleaseKind, type ReleaseRecord, type ServiceImage } from '../releases/ledger.mts';
import type { Ui } from '../core/ui.mts';

/** Records that restore an older release rather than ship a new one. */
const RESTORING: ReleaseKind[] = ['rollback', 'auto-rollback'];

export function shortTag(tag: string): string {
  return /^[0-9a-f]{40}$/.test(tag) ? tag.slice(0, 12) : tag;
}

/** Releases that ended well, newest first, one per tag (its newest record: the images it ran last). */
export function recordedReleases(records: ReleaseRecord[]): ReleaseRecord[] {
  const seen = new Set<string>();
  const releases: ReleaseRecord[] = [];
  for (const record of [...records].reverse()) {
    if (record.result !== 'ok' || seen.has(record.tag)) continue;
    seen.add(record.tag);
    releases.push(record);
  }
  return releases;
}

export function describeReleases(releases: ReleaseRecord[], max = 10): string {
  const listed = releases.slice(0, max).map((r) => `${shortTag(r.tag)} (${r.time.slice(0, 16).replace('T', ' ')}, ${r.who})`);
  const more = releases.length > max ? ` and ${releases.length - max} older` : '';
  return `${listed.join(', ')}${more}`;
}

/** The release `sha` names: the whole tag, or a prefix of at least 4 characters naming one release. */
export function findRelease(records: ReleaseRecord[], sha: string, productName: string): ReleaseRecord {
  const releases = recordedReleases(records);
  const exact = releases.find((r) => r.tag === sha);
  if (exact) return exact;
  const matches = sha.length >= 4 ? releases.filter((r) => r.tag.startsWith(sha)) : [];
  if (matches.length === 1) return matches[0] as ReleaseRecord;
  if (matches.length > 1) {
    throw new UsageError(`'${sha}' matches ${matches.length} releases of ${productName} (${describeReleases(matches)})`, { fix: 'give more characters of the SHA' });
  }
  throw new UsageError(`${sha} is not a recorded release of ${productName}`, {
    fix: releases.length > 0 ? `roll back to one of ${describeReleases(releases)}` : `${productName} has no successful release recorded yet`,
  });
}

/**
 * The release that ran before the current one. After a rollback, "before" means before the
 * restored release first ran, so repeated --previous walks back through history instead of
 * toggling between two releases.
 */
export function previousRelease(records: ReleaseRecord[]): ReleaseRecord | undefined {
  const ok = records.filter((r) => r.result === 'ok');
  const current = ok.at(-1);
  if (!current) return undefined;
  let from = ok.length - 1;
  if (RESTORING.includes(current.kind)) {
    const origin = ok.findLastIndex((r, i) => i < from && r.tag === current.tag && !RESTORING.includes(r.kind));
    if (origin >= 0) from = origin;
  }
  for (let i = from - 1; i >= 0; i--) {
    const candidate = ok[i] as ReleaseRecord;
    if (candidate.tag !== current.tag) return recordedReleases(records).find((r) => r.tag === candidate.tag);
  }
  return undefined;
}

/** Services a rollback re-points: the product's routine ones (http, worker) the release recorded. */
export function rollbackServices(product: Pick<Product, 'services'>, record: ReleaseRecord): { services: string[]; notRecorded: string[] } {
  const routine = Object.values(product.services)
    .filter((s) => s.kind === 'http' || s.kind === 'worker')
    .map((s) => s.name);
  return { services: routine.filter((s) => record.services[s]), notRecorded: routine.filter((s) => !record.services[s]) };
}

// ---------------------------------------------------------------------------------------------
// Where a release's images are: on this engine, in the registry, or gone.

export type ImageSource = 'local' | 'registry' | 'missing';

export interface ImageCheck {
  service: string;
  /** registry/repository the release's tag is re-pointed in. */
  repository: string;
  image: ServiceImage;
  source: ImageSource;
  detail: string;
}

export interface RegistryAnswer {
  exists: boolean;
  detail: string;
}

export interface ImageLookup {
  hasLocal(id: string): boolean;
  inRegistry(digestRef: string): Promise<RegistryAnswer>;
}

const MANIFEST_TYPES = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ');

/** repo@sha256:... -> where to ask the registry. Undefined for a reference without a registry host. */
export function manifestUrl(digestRef: string): string | undefined {
  const at = digestRef.indexOf('@');
  if (at < 0) return undefined;
  const name = digestRef.slice(0, at);
  const digest = digestRef.slice(at + 1);
  const slash = name.indexOf('/');
  const host = slash < 0 ? '' : name.slice(0, slash);
  if (!/[.:]|^localhost$/.test(host)) return undefined;
  return `${registryBaseUrl(host)}${name.slice(slash + 1)}/manifests/${digest}`;
}

/** Local image IDs are listed once; registry answers are remembered, and a host that does not
 *  answer is asked once, so status over many releases costs one timeout, not one per image. */
export async function createImageLookup(runner: Runner, timeoutMs = 3_000): Promise<ImageLookup> {
  const listing = await runner.read(dockerImagesJson());
  const local = new Set(
    listing
      .split('\n')
      .filter(Boolean)
      .map((line) => (JSON.parse(line) as { ID: string }).ID),
  );
  const answers = new Map<string, Promise<RegistryAnswer>>();
  const downHosts = new Map<string, string>();

  async function ask(ref: string): Promise<RegistryAnswer> {
    const url = manifestUrl(ref);
    const host = url ? new URL(url).host : '';
    const down = downHosts.get(host);
    if (down) return { exists: false, detail: down };
    if (url) {
      try {
        const response = await fetch(url, { method: 'HEAD', headers: { Accept: MANIFEST_TYPES }, signal: AbortSignal.timeout(timeoutMs) });
        if (response.status === 200) return { exists: true, detail: 'the registry has it' };
        if (response.status === 404) return { exists: false, detail: 'the registry no longer has it' };
        if (response.status !== 401 && response.status !== 403) return { exists: false, detail: `the registry answered HTTP ${response.status}` };
      } catch (error) {
        const code = (error as { cause?: { code?: string } }).cause?.code ?? (error instanceof Error ? error.name : String(error));
        const detail = `the registry ${host} is unreachable (${code})`;
        downHosts.set(host, detail);
        return { exists: false, detail };
      }
    }
    // A registry asking for credentials: docker has them, so ask through docker (it pulls nothing).
    const insecure = url?.startsWith('http:') ?? false;
    const result = await runner.probe(dockerManifestInspect(ref, { insecure }), { timeoutMs: 30_000 });
    if (result.exitCode === 0) return { exists: true, detail: 'the registry has it' };
    const last = runner.redact(`${result.stderr}`.trim().split('\n').pop() ?? '');
    return { exists: false, detail: `the registry says: ${last || `exit ${result.exitCode}`}` };
  }

  return {
    hasLocal: (id) => local.has(id),
    inRegistry(ref) {
      let answer = answers.get(ref);
      if (!answer) {
        answer = ask(ref);
        answers.set(ref, answer);
      }
      return answer;
    },
  };
}

export async function checkImage(lookup: ImageLookup, service: string, repository: string, image: ServiceImage | undefined): Promise<ImageCheck> {
  const base = { service, repository, image: image ?? { image: '' } };
  if (!image) return { ...base, source: 'missing', detail: 'the release recorded no image' };
  if (image.id && lookup.hasLocal(image.id)) return { ...base, source: 'local', detail: `local image ${image.id.slice(7, 19)}` };
  const gone = `image ${image.id?.slice(7, 19) ?? '(no id recorded)'} is gone from this engine`;
  if (!image.digest) return { ...base, source: 'missing', detail: `${gone} and was never pushed (no digest recorded)` };
  const answer = await lookup.inRegistry(image.digest);
  if (answer.exists) return { ...base, source: 'registry', detail: `pull ${image.digest}` };
  return { ...base, source: 'missing', detail: `${gone}, and ${answer.detail}` };
}

export function checkRelease(lookup: ImageLookup, product: Pick<Product, 'services'>, record: ReleaseRecord, services: string[]): Promise<ImageCheck[]> {
  return Promise.all(services.map((s) => checkImage(lookup, s, product.services[s]?.repository ?? '', record.services[s])));
}

/** The worst source of a release's images: what a rollback to it would need. */
export function releaseSource(checks: ImageCheck[]): ImageSource {
  if (checks.some((c) => c.source === 'missing')) return 'missing';
  return checks.some((c) => c.source === 'registry') ? 'registry' : 'local';
}

// ---------------------------------------------------------------------------------------------
// The plan: which tag is re-pointed to which image, and whether it is pulled first.

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
    if (check.source === 'local' && check.image.id) return { service: check.service, target, source: check.image.id, expectedId, ...(check.image.digest ? { fallback: check.image.digest } : {}) };
    if (check.source === 'registry' && check.image.digest) return { service: check.service, target, source: check.image.digest, pull: check.image.digest, expectedId };
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
    skip: (ctx) => (ctx.options.dryRun ? `dry run: would run ${repointCommands(actions).map((argv) => ctx.runner.format(argv)).join(' && ')}` : false),
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

/** The deploy phases with the repoint step first under the lock, right after preflight. */
export function rollbackPhases(actions: RepointAction[]): DeployPhases {
  const phases = deployPhases();
  return { ...phases, plan: [repointStep(actions), ...phases.plan] };
}

/** Every step of a rollback, in order. */
export function rollbackSteps(actions: RepointAction[]): Step<DeployContext>[] {
  const phases = rollbackPhases(actions);
  return [...phases.preflight, ...phases.plan, ...phases.pull, ...phases.switch];
}

/** Services whose running image is not the one the rollback asked for (empty when it worked). */
export function unmatched(actions: RepointAction[], running: Record<string, string[]>): string[] {
  return actions
    .filter((a) => a.expectedId)
    .filter((a) => {
      const ids = running[a.service] ?? [];
      return ids.length === 0 || ids.some((id) => id !== a.expectedId);
    })
    .map((a) => `${a.service} runs ${(running[a.service] ?? []).map((id) => id.slice(7, 19)).join(', ') || 'nothing'} instead of ${a.expectedId?.slice(7, 19)}`);
}

// ---------------------------------------------------------------------------------------------

export interface RollbackRequest {
  /** A recorded tag or an unambiguous prefix of one; or previous. */
  sha?: string;
  previous?: boolean;
  dryRun?: boolean;
  wait?: boolean;
}

export interface RollbackResult {
  product: string;
  tag: string;
  from: string | undefined;
  result: 'ok' | 'dry-run' | 'unchanged';
  images: Record<string, { source: ImageSource; id?: string; digest?: string }>;
  changed: string[];
  durationsMs: Record<string, number>;
}

export function chooseTarget(records: ReleaseRecord[], request: RollbackRequest, productName: string): ReleaseRecord {
  if (request.previous) {
    const previous = previousRelease(records);
    if (previous) return previous;
    const releases = recordedReleases(records);
    throw new UsageError(`${productName} has no release before ${releases[0] ? shortTag(releases[0].tag) : 'the first one'} to roll back to`, {
      fix: releases.length > 0 ? `name one of ${describeReleases(releases)}` : `deploy ${productName} first`,
    });
  }
  if (!request.sha) throw new UsageError('which release?', { fix: 'pass a SHA or --previous' });
  return findRelease(records, request.sha, productName);
}

async function runningIds(runner: Runner, product: Product, services: string[]): Promise<Record<string, string[]>> {
  const ids = await Promise.all(services.map(async (s) => (await listContainers(runner, product.projectName, s)).filter((c) => c.running).map((c) => c.imageId)));
  return Object.fromEntries(services.map((s, i) => [s, ids[i] ?? []]));
}

export async function rollbackProduct(product: Product, settings: Settings, runner: Runner, ui: Ui, request: RollbackRequest): Promise<RollbackResult> {
  const started = performance.now();
  const records = readLedger(product.stateDir);
  const target = chooseTarget(records, request, product.name);
  const from = currentRelease(records)?.tag;
  const { services, notRecorded } = rollbackServices(product, target);
  if (services.length === 0) {
    throw new UsageError(`release ${shortTag(target.tag)} of ${product.name} recorded no image for any of its services`, { fix: 'roll back to another release' });
  }
  for (const service of notRecorded) ui.warn(`${service} has no image in ${shortTag(target.tag)} (added later?): it keeps running as it is`);

  // Everything up to here only reads: a release that cannot be restored is refused untouched.
  const [lookup, before] = await Promise.all([createImageLookup(runner), runningIds(runner, product, services)]);
  const checks = await checkRelease(lookup, product, target, services);
  const missing = checks.filter((c) => c.source === 'missing');
  if (missing.length > 0) {
    const others: ReleaseRecord[] = [];
    for (const release of recordedReleases(records)) {
      if (release.tag === target.tag || release.tag === from) continue;
      const { services: theirs } = rollbackServices(product, release);
      if (releaseSource(await checkRelease(lookup, product, release, theirs)) !== 'missing') others.push(release);
    }
    throw new EngineError(`cannot roll ${product.name} back to ${shortTag(target.tag)}: ${missing.map((c) => `${c.service} ${c.detail}`).join('; ')}; nothing was changed`, {
      fix: others.length > 0 ? `roll back to one whose images are still there: ${describeReleases(others)}` : 'no other recorded release has its images either; deploy a new build',
    });
  }
  for (const check of checks) ui.info(`${check.service}: ${check.detail}`);
  const actions = repointPlan(target, checks);
  const images = Object.fromEntries(checks.map((c) => [c.service, { source: c.source, ...(c.image.id ? { id: c.image.id } : {}), ...(c.image.digest ? { digest: c.image.digest } : {}) }]));

  if (unmatched(actions, before).length === 0 && actions.every((a) => a.expectedId)) {
    ui.info(`${product.name} already runs the images of ${shortTag(target.tag)}: nothing to do`);
    return { product: product.name, tag: target.tag, from, result: 'unchanged', images, changed: [], durationsMs: { total: Math.round(performance.now() - started) } };
  }

  const ctx = createDeployContext(product, settings, runner, ui, {
    tag: target.tag,
    kind: 'rollback',
    only: services,
    offline: true,
    dryRun: request.dryRun,
    wait: request.wait,
  });
  const deployed = succeeded(await deployProduct(ctx, rollbackPhases(actions)));
  if (!request.dryRun) {
    const wrong = unmatched(actions, await runningIds(runner, product, services));
    if (wrong.length > 0) {
      throw new BerthError(`the rollback of ${product.name} to ${shortTag(target.tag)} finished but ${wrong.join('; ')}`, {
        fix: 'see npx zx scripts/status.mts; rerun the rollback',
      });
    }
  }
  return {
    product: product.name,
    tag: target.tag,
    from,
    result: deployed.result === 'dry-run' ? 'dry-run' : 'ok',
    images,
    changed: deployed.changed,
    durationsMs: { ...deployed.durationsMs, total: Math.round(performance.now() - started) },
  };
}

/** For `rollback <sha>` without a product: the one product whose ledger holds the release. */
export function productsWithRelease(ledgers: Record<string, ReleaseRecord[]>, sha: string): string[] {
  return Object.entries(ledgers)
    .filter(([, records]) => recordedReleases(records).some((r) => r.tag === sha || (sha.length >= 4 && r.tag.startsWith(sha))))
    .map(([name]) => name);
}
