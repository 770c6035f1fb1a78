import { describe, expect, it } from 'vitest';
import {
  canonical,
  configDifferences,
  configInputs,
  decideService,
  describeFiles,
  envFilesOf,
  filesUnder,
  imageDigestDiffers,
  normalizePath,
  pathCovers,
  servicePaths,
  shortSha,
  tagOfImage,
} from '../../lib/deploy/plan/change-rules.mts';
import { sameRelease } from '../../lib/deploy/plan/quick-plan.mts';

const A = '3f2a91c0c0ffee00000000000000000000000001';

describe('paths', () => {
  it('normalises repo-relative paths, the repo root being empty', () => {
    expect(normalizePath('./apps/web/')).toBe('apps/web');
    expect(normalizePath('apps//web/../api')).toBe('apps/api');
    expect(normalizePath('.')).toBe('');
    expect(normalizePath('./')).toBe('');
  });

  it('maps a build section to the paths that make the image: context, dockerfile either way, extra paths', () => {
    expect(servicePaths(undefined)).toBeUndefined();
    expect(servicePaths({ context: 'apps/web', paths: ['shared/', './libs/ui'] })).toEqual(['apps/web', 'shared', 'libs/ui']);
    expect(servicePaths({ context: 'apps/web', dockerfile: 'docker/web.Dockerfile' })).toEqual([
      'apps/web',
      'docker/web.Dockerfile',
      'apps/web/docker/web.Dockerfile',
    ]);
    expect(servicePaths({ context: '.', dockerfile: 'Dockerfile' })).toEqual(['', 'Dockerfile']);
  });

  it('a path covers itself and what is under it, not a sibling sharing its prefix', () => {
    expect(pathCovers('web', 'web')).toBe(true);
    expect(pathCovers('web', 'web/src/app.ts')).toBe(true);
    expect(pathCovers('web', 'webapp/x')).toBe(false);
    expect(pathCovers('', 'anything/at/all')).toBe(true);
    expect(filesUnder(['web/a.ts', 'api/b.ts', 'shared/c.ts', 'README.md'], ['api', 'shared'])).toEqual(['api/b.ts', 'shared/c.ts']);
  });

  it('reads the tag of an image reference, registry port and namespace aside', () => {
    expect(tagOfImage(`127.0.0.1:5000/team/app-web:${A}`)).toBe(A);
    expect(tagOfImage('127.0.0.1:5000/app-web')).toBeUndefined();
    expect(tagOfImage('app-web@sha256:abc')).toBeUndefined();
    expect(tagOfImage(undefined)).toBeUndefined();
  });

  it('finds env files in raw compose documents in all three spellings, and lists every config input once', () => {
    const docs = [
      { services: { web: { env_file: './web.env' }, api: { env_file: ['api.env', 'web.env'] } } },
      { services: { worker: { env_file: [{ path: 'env/worker.env', required: false }] }, db: null } },
      'not a document',
    ];
    expect(envFilesOf(docs)).toEqual(['web.env', 'api.env', 'env/worker.env']);
    expect(configInputs(['./compose.yaml', 'compose.prod.yaml'], ['web.env'])).toEqual([
      'compose.yaml',
      'compose.prod.yaml',
      '.env',
      'web.env',
    ]);
  });
});

describe('config comparison', () => {
  it('is blind to key order and names the keys that differ', () => {
    expect(canonical({ b: 1, a: { d: 2, c: 3 } })).toBe(canonical({ a: { c: 3, d: 2 }, b: 1 }));
    const before = { image: 'r/web:1', environment: { A: '1', B: '2' }, restart: 'always' };
    const after = { restart: 'always', environment: { B: '2', A: '3' }, image: 'r/web:1', ports: ['80'] };
    expect(configDifferences(before, after)).toEqual(['environment', 'ports']);
    expect(configDifferences(before, { ...before })).toEqual([]);
    expect(configDifferences(undefined, before)).toEqual(['(whole service)']);
  });
});

describe('decideService', () => {
  const base = A;
  const since = '3f2a91c';

  it('names the changed file, or the first one and how many more', () => {
    expect(decideService({}, { base, paths: ['web'], files: ['web/src/app.ts'] })).toEqual({
      changed: true,
      reason: `web/src/app.ts changed since ${since}`,
    });
    expect(decideService({}, { base, paths: ['web'], files: ['web/a', 'web/b', 'web/c'] }).reason).toBe(
      `web/a and 2 more files changed since ${since}`,
    );
    expect(describeFiles(['a', 'b'])).toBe('a and 1 more file');
  });

  it('replaces, config and all, a service whose containers run another config than the target, whatever git says', () => {
    const running = { runningDiffers: ['shop-web-1'] };
    expect(decideService({ release: 'c2' }, { base, paths: ['web'], files: [], ...running })).toEqual({
      changed: true,
      force: true,
      reason: "shop-web-1 runs another config than c2's",
    });
    // A rollback compares images, but a config that differs is applied with them.
    expect(decideService({ imagesOnly: 'rollback', release: 'c1' }, running)).toMatchObject({ changed: true, force: true });
    expect(decideService({ imagesOnly: 'rollback' }, {})).toEqual({ changed: true, reason: 'rollback: comparing images' });
  });

  it('keeps what did not change, and says since when', () => {
    expect(decideService({}, { base, paths: ['worker'], files: [] })).toEqual({ changed: false, reason: `unchanged since ${since}` });
  });

  it('forces a config change through, because the image alone would look unchanged', () => {
    expect(decideService({}, { base, paths: ['web'], files: [], config: ['environment', 'ports'] })).toEqual({
      changed: true,
      force: true,
      reason: `compose config changed since ${since} (environment, ports)`,
    });
  });

  it('falls back to comparing images when git cannot tell, and says why', () => {
    expect(decideService({ firstDeploy: true }, { base, paths: ['web'], files: [] }).reason).toBe('first deploy: no release recorded');
    expect(decideService({ targetProblem: 'tag v9 is not a commit in /srv/app' }, {}).reason).toBe(
      'tag v9 is not a commit in /srv/app: comparing images',
    );
    expect(decideService({ imagesOnly: 'rollback' }, { base, files: [] }).reason).toBe('rollback: comparing images');
    expect(decideService({}, { baseProblem: 'last release v2 is not a commit in /srv/app', paths: ['web'] }).reason).toBe(
      'last release v2 is not a commit in /srv/app: comparing images',
    );
    expect(decideService({}, { base, files: undefined })).toEqual({
      changed: true,
      reason: 'no build paths in the product definition: comparing images',
    });
  });

  it('--all beats everything and forces; drift beats an unchanged diff', () => {
    expect(decideService({ all: true }, { base, paths: ['web'], files: [] })).toEqual({ changed: true, force: true, reason: '--all' });
    expect(decideService({}, { base, paths: ['web'], files: [], drift: 'runs image aaa, not bbb recorded for 3f2a91c' }).reason).toBe(
      'runs image aaa, not bbb recorded for 3f2a91c',
    );
  });
});

describe('the registry digest of the target tag', () => {
  const REPO = '127.0.0.1:5000/team/shop-web';
  const D1 = `sha256:${'1'.repeat(64)}`;
  const D2 = `sha256:${'2'.repeat(64)}`;

  it('is the running image when every running image is known by it in that repository', () => {
    expect(imageDigestDiffers(REPO, D1, [[`${REPO}@${D1}`, `other/shop-web@${D2}`]])).toBeUndefined();
    // Two replicas on one image, and no container at all: nothing differs.
    expect(imageDigestDiffers(REPO, D1, [[`${REPO}@${D1}`], [`${REPO}@${D2}`, `${REPO}@${D1}`]])).toBeUndefined();
    expect(imageDigestDiffers(REPO, D1, [])).toBeUndefined();
  });

  it('names both digests when the tag was pushed again as another image, and says when the running one has none', () => {
    expect(imageDigestDiffers(REPO, D2, [[`${REPO}@${D1}`]])).toBe(
      'registry 222222222222, running 111111111111: rebuilt with other build args or base image',
    );
    // One replica still on the old image is enough.
    expect(imageDigestDiffers(REPO, D2, [[`${REPO}@${D2}`], [`${REPO}@${D1}`]])).toMatch(/^registry 222222222222, running 111111111111/);
    // The same digest in another repository is not this repository's image.
    expect(imageDigestDiffers(REPO, D1, [[`elsewhere/shop-web@${D1}`]])).toBe(`the running image has no digest from ${REPO}`);
    expect(imageDigestDiffers(REPO, D1, [[]])).toBe(`the running image has no digest from ${REPO}`);
  });

  it('turns an unchanged service into a changed one, unforced (the pull and the image ids decide), and nothing else', () => {
    const differs = 'registry 222222222222, running 111111111111: rebuilt with other build args or base image';
    expect(decideService({ release: 'c2c2c2c' }, { base: A, paths: ['web'], files: [], imageDiffers: differs })).toEqual({
      changed: true,
      reason: `its image for c2c2c2c is not the one running (${differs})`,
    });
    // A change git or config already found keeps its own reason.
    expect(decideService({}, { base: A, paths: ['web'], files: ['web/a'], imageDiffers: differs }).reason).toBe(
      'web/a changed since 3f2a91c',
    );
    expect(decideService({}, { base: A, paths: ['web'], files: [], config: ['ports'], imageDiffers: differs })).toMatchObject({
      force: true,
    });
  });
});

describe('release identity', () => {
  it('short and full SHAs of one commit are the same release; other tags must match exactly', () => {
    expect(sameRelease(A, A.slice(0, 7))).toBe(true);
    expect(sameRelease(A.slice(0, 9), A)).toBe(true);
    expect(sameRelease(A, 'ffff91c')).toBe(false);
    expect(sameRelease('v1', 'v1')).toBe(true);
    expect(sameRelease('v1', 'v10')).toBe(false);
    expect(shortSha(A)).toBe('3f2a91c');
    expect(shortSha('hotfix')).toBe('hotfix');
  });
});
