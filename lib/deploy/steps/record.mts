// Writes the release to the ledger: the images every service runs now, by id and digest, which
// is what rollback re-points tags to and what change detection diffs against.
import { hostname } from 'node:os';
import { servicesWith, type DeployContext } from '../context.mts';
import { listContainers } from '../../engine/engine.mts';
import { imageRepoDigests } from '../../engine/images.mts';
import type { Step } from '../../core/pipeline.mts';
import { appendRelease, type ReleaseRecord, type ReleaseResult, type ServiceImage } from '../../releases/ledger.mts';
import { whoAmI } from '../../releases/lock.mts';
import { configIdentity } from '../replica/labels.mts';
import { hookResults } from '../hooks.mts';
import { addImageSizes } from '../image-sizes.mts';
import { composeEnvFile, composeEnvTracked, leftOnOtherTags, trackedEnvWarning, writeComposeEnvFile } from '../compose-env-file.mts';
import { errorLine } from '../../core/errors.mts';

/** Every service's image as it runs now; with `release`, also the config of each service this
 *  release started or found running its config, which status compares later. */
export async function currentImages(
  ctx: Pick<DeployContext, 'product' | 'runner'>,
  release?: Pick<DeployContext, 'plan' | 'running'>,
): Promise<Record<string, ServiceImage>> {
  const images: Record<string, ServiceImage> = {};
  for (const [name, service] of Object.entries(ctx.product.services)) {
    const [container] = (await listContainers(ctx.runner, ctx.product.projectName, name)).filter((c) => c.running).slice(-1);
    if (!container) continue;
    const digest = (await imageRepoDigests(ctx.runner, container.imageId)).find((d) => d.startsWith(`${service.repository}@`));
    const action = release?.plan[name]?.action;
    const known = action === 'replace' || action === 'start' || release?.running?.[name]?.state === 'same';
    const config = known ? configIdentity(container.labels) : undefined;
    images[name] = { image: container.image, id: container.imageId, ...(digest ? { digest } : {}), ...(config ? { config } : {}) };
  }
  return images;
}

export function releaseRecord(
  ctx: Pick<DeployContext, 'product' | 'options' | 'plan' | 'timings' | 'release'>,
  result: ReleaseResult,
  images: Record<string, ServiceImage>,
  error?: string,
): ReleaseRecord {
  const hooks = hookResults(ctx);
  return {
    time: new Date().toISOString(),
    who: whoAmI(),
    host: hostname(),
    product: ctx.product.name,
    tag: ctx.options.tag,
    kind: ctx.options.kind ?? 'deploy',
    result,
    services: images,
    changed: servicesWith(ctx, 'replace', 'start'),
    durationsMs: { ...ctx.timings },
    ...(ctx.release?.config ? { config: ctx.release.config } : {}),
    ...(ctx.release?.dirty ? { dirty: ctx.release.dirty } : {}),
    ...(ctx.release?.committedAt ? { committedAt: ctx.release.committedAt } : {}),
    ...(error ? { error } : {}),
    ...(hooks.length > 0 ? { hooks: [...hooks] } : {}),
  };
}

/** The release just recorded, where a hand-run Compose in the checkout reads it
 *  (compose-env-file.mts). Only ever warns: the release is live and recorded by now. */
export async function writeReleaseEnv(ctx: Pick<DeployContext, 'product' | 'runner' | 'ui' | 'composeEnv'>): Promise<void> {
  const file = composeEnvFile(ctx.product);
  try {
    if (await composeEnvTracked(ctx.runner, ctx.product)) {
      ctx.ui.warn(trackedEnvWarning(ctx.product));
      return;
    }
    const written = writeComposeEnvFile(ctx.product, ctx.composeEnv);
    for (const key of written.shadowed)
      ctx.ui.warn(`${written.file}: your own ${key} line no longer counts; berth's block below it sets ${key}`);
    if (written.changed) ctx.ui.debug(`${written.file}: IMAGE_TAG=${ctx.composeEnv.IMAGE_TAG ?? ''}, for a hand-run compose up`);
  } catch (error) {
    ctx.ui.warn(`could not write ${file} (${errorLine(error)}): a hand-run compose up there would not run this release`);
  }
}

export const record: Step<DeployContext> = {
  id: 'record',
  title: 'record release',
  skip: (ctx) =>
    ctx.options.dryRun
      ? `dry run: would append ${ctx.options.tag} to ${ctx.product.stateDir}/releases.jsonl and write IMAGE_TAG=${ctx.options.tag} into ${composeEnvFile(ctx.product)}`
      : false,
  async run(ctx) {
    const images = await currentImages(ctx, ctx);
    const { stateDir } = ctx.product;
    await addImageSizes(images, { stateDir, env: ctx.settings.env, offline: ctx.options.offline, ui: ctx.ui });
    appendRelease(stateDir, releaseRecord(ctx, 'ok', images));
    await writeReleaseEnv(ctx);
    const left = leftOnOtherTags(ctx.product, images, ctx.options.tag, ctx.options.only);
    if (left.length > 0)
      ctx.ui.warn(
        `${composeEnvFile(ctx.product)} names ${ctx.options.tag} for every service, but ${left.map((l) => `${l.service} runs ${l.tag}`).join(', ')} (left out by --only): a hand-run compose up there would move ${left.length > 1 ? 'them' : 'it'} to ${ctx.options.tag}; deploy the whole release, or hand-run compose up only for ${(ctx.options.only ?? []).join(' ')}`,
      );
  },
};
