// The preflight decision for a release whose images were never pushed, with a registry answering
// from a table: which images are asked for, the one refusal line, and the search for a release
// that is complete.
import { describe, expect, it } from 'vitest';
import { BerthError, ConfigError, EngineError } from '../../lib/core/errors.mts';
import type { RegistryAnswer } from '../../lib/registry/digest-lookup.mts';
import { DEPLOYABLE_SEARCH_DEPTH, newestCompleteCommit } from '../../lib/releases/branch-tip.mts';
import { unpushedRelease, type ReleaseImages } from '../../lib/releases/release-images.mts';
import { fakeRunner } from '../support/fake-runner.mts';

const C2 = 'c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2';
const C1 = 'c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1';
const C0 = 'c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0';

const services = {
  web: { kind: 'http', repository: 'reg/shop-web' },
  jobs: { kind: 'worker', repository: 'reg/shop-jobs' },
  db: { kind: 'stateful', repository: 'reg/shop-db' },
} as never;
const product = { name: 'shop', services, repoDir: '/srv/shop' };

/** A registry holding exactly `pushed`; every reference asked is recorded. */
function registry(pushed: string[], down?: string) {
  const asked: string[] = [];
  const lookup = async (ref: string): Promise<RegistryAnswer> => {
    asked.push(ref);
    if (down) return { exists: false, detail: down };
    return pushed.includes(ref) ? { exists: true, detail: 'the registry has it' } : { exists: false, absent: true, detail: 'no' };
  };
  return { asked, lookup };
}

function check(over: Partial<ReleaseImages> & Pick<ReleaseImages, 'lookup'>): ReleaseImages {
  return {
    product,
    tag: C2,
    local: [],
    commit: async () => C2,
    newestComplete: async () => C1,
    ...over,
  };
}

/** What the operator reads: `error: <message>: <fix>`. */
const line = (error: BerthError | undefined) => error && `error: ${error.line}`;

describe('a release whose images were never pushed', () => {
  it('passes when the registry has every own image; stateful and proxy images are not asked for', async () => {
    const { asked, lookup } = registry([`reg/shop-web:${C2}`, `reg/shop-jobs:${C2}`]);
    expect(await unpushedRelease(check({ lookup }))).toBeUndefined();
    expect(asked.sort()).toEqual([`reg/shop-jobs:${C2}`, `reg/shop-web:${C2}`]);
  });

  it('asks nothing for an image this engine has: a local release needs no registry', async () => {
    const { asked, lookup } = registry([`reg/shop-jobs:${C2}`]);
    expect(await unpushedRelease(check({ lookup, local: ['web'] }))).toBeUndefined();
    expect(asked).toEqual([`reg/shop-jobs:${C2}`]);
    const none = registry([], 'the registry r is unreachable (ECONNREFUSED)');
    expect(await unpushedRelease(check({ lookup: none.lookup, local: ['web', 'jobs'] }))).toBeUndefined();
    expect(none.asked).toEqual([]);
  });

  it('refuses with one line naming every missing image, the build and the newest complete commit (exit 2)', async () => {
    const { lookup } = registry([]);
    const refusal = await unpushedRelease(check({ lookup }));
    expect(refusal).toBeInstanceOf(ConfigError);
    expect(refusal?.exitCode).toBe(2);
    expect(line(refusal)).toBe(
      `error: ${C2.slice(0, 12)} has no pushed image for web and jobs; nothing was changed: run npx zx scripts/build.mts shop --push for it, or deploy --tag ${C1.slice(0, 12)}`,
    );
  });

  it('refuses a release missing one image even when the other is there or local', async () => {
    const { lookup } = registry([`reg/shop-jobs:${C2}`]);
    expect((await unpushedRelease(check({ lookup })))?.message).toBe(`${C2.slice(0, 12)} has no pushed image for web; nothing was changed`);
    const local = await unpushedRelease(check({ lookup: registry([]).lookup, local: ['web'] }));
    expect(local?.message).toBe(`${C2.slice(0, 12)} has no pushed image for jobs; nothing was changed`);
  });

  it('names no other release when no earlier commit is complete, or the tag is no commit', async () => {
    const { lookup } = registry([]);
    const none = await unpushedRelease(check({ lookup, newestComplete: async () => undefined }));
    expect(none?.fix).toBe('run npx zx scripts/build.mts shop --push for it');
    let searched = false;
    const imageTag = await unpushedRelease(
      check({
        lookup,
        tag: 'v2',
        commit: async () => undefined,
        newestComplete: async () => {
          searched = true;
          return C1;
        },
      }),
    );
    expect(line(imageTag)).toBe(
      'error: v2 has no pushed image for web and jobs; nothing was changed: run npx zx scripts/build.mts shop --push for it',
    );
    expect(searched).toBe(false);
  });

  it('is an engine error naming the registry problem when the registry cannot be asked (exit 3)', async () => {
    const { lookup } = registry([], 'the registry answered HTTP 500');
    const refused = unpushedRelease(check({ lookup }));
    await expect(refused).rejects.toBeInstanceOf(EngineError);
    await expect(refused).rejects.toThrow(/cannot tell whether c2c2c2c2c2c2's images were pushed: web: the registry answered HTTP 500/);
  });
});

describe('the newest complete commit', () => {
  it('is the newest first-parent ancestor whose images are all in the registry, the commit itself left out', async () => {
    const runner = fakeRunner([
      [new RegExp(`rev-list --first-parent --max-count=${DEPLOYABLE_SEARCH_DEPTH} ${C2}$`), { stdout: `${C2}\n${C1}\n${C0}\n` }],
    ]);
    // C2 complete would be the release itself; C1 lacks jobs; C0 has both.
    const { asked, lookup } = registry([
      `reg/shop-web:${C2}`,
      `reg/shop-jobs:${C2}`,
      `reg/shop-web:${C1}`,
      `reg/shop-web:${C0}`,
      `reg/shop-jobs:${C0}`,
    ]);
    expect(await newestCompleteCommit(runner, lookup, product, C2)).toBe(C0);
    expect(asked.filter((r) => r.endsWith(C2))).toEqual([]);
    expect(runner.calls).toEqual([`git -C /srv/shop rev-list --first-parent --max-count=${DEPLOYABLE_SEARCH_DEPTH} ${C2}`]);
  });

  it('is none when no commit within the search depth is complete', async () => {
    const runner = fakeRunner([[/rev-list/, { stdout: `${C2}\n${C1}\n` }]]);
    expect(await newestCompleteCommit(runner, registry([]).lookup, product, C2)).toBeUndefined();
  });
});
