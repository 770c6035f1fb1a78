// Smoke checks through the proxy after the switch, then a monitor window: the release has to
// keep answering and its containers have to stay up. A failure undoes the switch (lib/deploy/undo.mts).
import { setTimeout as sleep } from 'node:timers/promises';
import type { SmokeCheck } from '../../config/types.mts';
import { found, servicesWith, type DeployContext } from '../context.mts';
import { inspectContainers, type ContainerState } from '../../engine/engine.mts';
import { localImageLabels, REVISION_LABEL } from '../../engine/images.mts';
import { HealthError } from '../../core/errors.mts';
import type { Step } from '../../core/pipeline.mts';
import { getThroughProxy } from '../proxy.mts';
import { usesEdge } from '../topology.mts';

/**
 * What `{tag}` in a smoke check accepts: the release tag, or the commit the image of an http
 * service was built from (its revision label). berth's build reuses an unchanged image from an
 * earlier commit, and that image honestly reports the commit its code came from.
 */
export interface SmokeTags {
  tag: string;
  /** service -> the commit its deployed image was built from, where it differs from the tag. */
  builtFrom?: Record<string, string>;
}

export function smokeFailure(check: SmokeCheck, tags: SmokeTags | string, answer: { status: number; body: string }): string | undefined {
  const { tag, builtFrom = {} } = typeof tags === 'string' ? { tag: tags } : tags;
  const status = check.status ?? 200;
  if (answer.status !== status) return `${check.path}: expected HTTP ${status}, got ${answer.status || 'no answer'}`;
  if (!check.contains) return undefined;
  const expected = check.contains.replaceAll('{tag}', tag);
  if (answer.body.includes(expected)) return undefined;
  // One alternative per commit, naming every service whose image was built from it.
  const byCommit = new Map<string, string[]>();
  if (check.contains.includes('{tag}'))
    for (const [service, commit] of Object.entries(builtFrom))
      if (commit !== tag) byCommit.set(commit, [...(byCommit.get(commit) ?? []), service]);
  const others = [...byCommit].map(([commit, services]) => ({ services, text: check.contains?.replaceAll('{tag}', commit) ?? '' }));
  if (others.some((other) => answer.body.includes(other.text))) return undefined;
  const nor = others.map(
    (other) => ` nor '${other.text}' (the commit ${other.services.join(', ')} ${other.services.length > 1 ? 'were' : 'was'} built from)`,
  );
  return `${check.path}: body does not contain '${expected}'${nor.join('')} (got '${answer.body.trim().slice(0, 80)}')`;
}

/** service -> the commit (revision label) of the image each http service now serves from: the new
 *  containers where the service was replaced, the running ones where it was kept. */
export async function buildCommits(ctx: Pick<DeployContext, 'product' | 'runner' | 'fresh' | 'before'>): Promise<Record<string, string>> {
  const images: Record<string, string> = {};
  for (const [name, service] of Object.entries(ctx.product.services)) {
    if (service.kind !== 'http') continue;
    const serving = ctx.fresh[name]?.length ? ctx.fresh[name] : ctx.before[name];
    const imageId = serving?.[0]?.imageId;
    if (imageId) images[name] = imageId;
  }
  return imageCommits(ctx, images);
}

/** service -> the commit (revision label) each of these images (ID or reference, local) was built from. */
export async function imageCommits(ctx: Pick<DeployContext, 'runner'>, images: Record<string, string>): Promise<Record<string, string>> {
  const commits = await Promise.all(
    Object.entries(images).map(async ([service, image]) => {
      const revision = (await localImageLabels(ctx.runner, image))?.[REVISION_LABEL];
      return revision ? [[service, revision] as const] : [];
    }),
  );
  return Object.fromEntries(commits.flat());
}

/** The product's smoke checks once each through the proxy: the first failure, or undefined. Repair
 *  runs them too, on a release it adopts. */
export async function smokeThroughProxy(
  ctx: Pick<DeployContext, 'product' | 'runner'>,
  proxy: ContainerState,
  tags: SmokeTags,
): Promise<string | undefined> {
  // An https edge answers plain HTTP with a redirect: ask it over TLS, as a browser would.
  const tls = usesEdge(ctx) && ctx.product.edge?.scheme === 'https';
  for (const check of ctx.product.def.smoke ?? []) {
    const answer = await getThroughProxy(ctx.runner, proxy, check.path, check.host, tls ? 443 : 80, tls);
    const failure = smokeFailure(check, tags, answer);
    if (failure) return failure;
  }
  return undefined;
}

export const smoke: Step<DeployContext> = {
  id: 'smoke',
  title: 'smoke checks',
  enabled: (ctx) => (ctx.product.def.smoke?.length ?? 0) > 0 && servicesWith(ctx, 'replace', 'start').length > 0,
  skip: (ctx) => (ctx.options.dryRun ? smokeDryRun(ctx) : false),
  async run(ctx) {
    const { proxy } = found(ctx);
    if (!proxy) throw new HealthError('smoke checks need the proxy, which is not running', { fix: 'start the proxy service' });
    const fresh = Object.values(ctx.fresh).flat();
    await smokeAndMonitor(ctx, proxy, { tag: ctx.options.tag, builtFrom: await buildCommits(ctx) }, async () => {
      for (const container of await inspectContainers(
        ctx.runner,
        fresh.map((c) => c.id),
      )) {
        if (!container.running || container.health === 'unhealthy' || container.restartCount > 0) {
          throw new HealthError(`${container.name} ${container.running ? container.health : 'stopped'} during the monitor window`, {
            fix: 'the release was rolled back; see its logs',
          });
        }
      }
    });
  },
};

/** The smoke checks through the proxy, then the monitor window: every ~500 ms `watch` (which throws
 *  when the new release's containers or tasks are not all up) and the checks again. The first
 *  failure throws; the caller's undo rolls the release back. */
export async function smokeAndMonitor(
  ctx: Pick<DeployContext, 'product' | 'runner'>,
  proxy: ContainerState,
  tags: SmokeTags,
  watch: () => Promise<void>,
  /** Ends the monitor window early, quietly: the deploy it watched failed some other way. */
  signal?: AbortSignal,
): Promise<void> {
  const runChecks = async () => {
    const failure = await smokeThroughProxy(ctx, proxy, tags);
    if (failure) throw new HealthError(`smoke check failed: ${failure}`, { fix: 'the release was rolled back; fix it and deploy again' });
  };
  await runChecks();
  const until = Date.now() + monitorSeconds(ctx) * 1000;
  while (Date.now() < until && !signal?.aborted) {
    await sleep(Math.min(500, Math.max(0, until - Date.now())));
    if (signal?.aborted) return;
    await watch();
    await runChecks();
  }
}

/** What a dry run says the smoke step would do. */
export function smokeDryRun(ctx: Pick<DeployContext, 'product' | 'options'>): string {
  const checks = (ctx.product.def.smoke ?? []).map(
    (c) =>
      `GET ${c.path} -> ${c.status ?? 200}${c.contains ? ` containing '${c.contains.replaceAll('{tag}', ctx.options.tag)}'` : ''}${c.contains?.includes('{tag}') ? " (or the commit an http service's image was built from)" : ''}`,
  );
  return `dry run: would check through the proxy ${checks.join(', ')}, then watch ${monitorSeconds(ctx)}s`;
}

export function monitorSeconds(ctx: Pick<DeployContext, 'product'>): number {
  return ctx.product.def.monitorSeconds ?? 3;
}
