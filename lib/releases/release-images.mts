// A release whose images were never pushed is refused before anything changes, not at the pull
// with the registry's raw "manifest unknown". Only the product's own images (http, worker) are
// built per release; of those, an image this engine already has needs no registry, so a rollback
// or a deploy of locally present images never depends on one. A missing image refuses the release
// even where change detection might later keep that service: a release without all its images is
// not a complete release.
import { ConfigError } from '../core/errors.mts';
import type { Product } from '../config/load.mts';
import { missingImages, type Lookup } from './branch-tip.mts';

export interface ReleaseImages {
  product: Pick<Product, 'name' | 'services'>;
  tag: string;
  /** Services whose image for `tag` this engine has. */
  local: string[];
  lookup: Lookup;
  /** The tag as a commit of the product's repo, or undefined when it is none (an image tag). */
  commit: () => Promise<string | undefined>;
  /** The newest earlier commit whose images are all in the registry (see newestCompleteCommit). */
  newestComplete: (commit: string) => Promise<string | undefined>;
}

/** `a`, `a and b`, `a, b and c`. */
function listed(names: string[]): string {
  return names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

/** The refusal for a release some of whose images are neither here nor in the registry; undefined
 *  when nothing is missing. Throws an EngineError when the registry cannot be asked. */
export async function unpushedRelease(check: ReleaseImages): Promise<ConfigError | undefined> {
  const { product, tag } = check;
  const remote = Object.fromEntries(Object.entries(product.services).filter(([name]) => !check.local.includes(name)));
  const missing = await missingImages(check.lookup, { services: remote }, tag);
  if (missing.length === 0) return undefined;
  const commit = await check.commit();
  const newest = commit && (await check.newestComplete(commit));
  const name = commit ? commit.slice(0, 12) : tag;
  const build = `run npx zx scripts/build.mts ${product.name} --push for it`;
  return new ConfigError(`${name} has no pushed image for ${listed(missing)}; nothing was changed`, {
    fix: newest ? `${build}, or deploy --tag ${newest.slice(0, 12)}` : build,
  });
}
