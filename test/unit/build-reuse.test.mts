// Why a build cannot reuse :latest, said as what differs (a build arg, a file), and a base image
// the builder cannot reach, said once with the setting that avoids it. Pure functions only.
import { describe, expect, it } from 'vitest';
import { sameImage, unreachableBase, unreachableBaseError, variableOfArg } from '../../lib/build/failure.mts';
import { releaseFedArgs, sourceLabels, type ImageBuild, type SourceParts } from '../../lib/build/plan.mts';
import { changedFilesText, parseArgsLabel, reuseMiss } from '../../lib/build/reuse.mts';
import { CommandError, EngineError } from '../../lib/core/errors.mts';

const current: SourceParts = { key: 'k2', files: 'files-2', args: { BASE: 'b1', VERSION: 'v2' }, target: '', secrets: [] };
/** :latest's labels for parts that differ from `current` only where `change` says. */
const latest = (change: Partial<SourceParts> = {}) => ({
  'org.opencontainers.image.revision': 'a'.repeat(40),
  ...sourceLabels({ ...current, key: 'k1', ...change }),
});

describe('why :latest cannot be reused', () => {
  it('names the build arg when only an argument differs, never "sources changed"', () => {
    const reason = reuseMiss(latest({ args: { BASE: 'b1', VERSION: 'v1' } }), current, ['web']);
    expect(reason).toBe('build arg VERSION differs');
    expect(reason).not.toMatch(/sources|files|changed/);
  });

  it('names new and dropped args, the target and secrets', () => {
    expect(reuseMiss(latest({ args: { BASE: 'b1' } }), current, ['web'])).toBe('build arg VERSION is new');
    expect(reuseMiss(latest({ args: { BASE: 'b1', VERSION: 'v2', OLD: 'x' } }), current, ['web'])).toBe(
      'build arg OLD is no longer passed',
    );
    expect(reuseMiss(latest({ target: 'build' }), { ...current, target: 'runtime' }, ['web'])).toBe(
      'build target changed from build to runtime',
    );
    expect(reuseMiss(latest({ secrets: ['old'] }), { ...current, secrets: ['npm_token'] }, ['web'])).toBe(
      'build secrets changed (npm_token added, old removed)',
    );
  });

  it('names the files git says changed under the sources, with args that differ too', () => {
    expect(reuseMiss(latest({ files: 'files-1' }), current, ['web'], { names: ['web/src/app.ts'] })).toBe('web/src/app.ts changed');
    expect(
      reuseMiss(latest({ files: 'files-1', args: { BASE: 'b0', VERSION: 'v2' } }), current, ['web'], {
        names: ['web/a.ts', 'web/b.ts', 'web/c.ts', 'web/d.ts', 'web/e.ts'],
      }),
    ).toBe('web/a.ts, web/b.ts, web/c.ts and 2 more files changed; build arg BASE differs');
  });

  it('says when git cannot name the files, and when only the sources moved', () => {
    expect(reuseMiss(latest({ files: 'files-1' }), current, ['web', 'shared'], { unknown: 'its commit aaa is not in this clone' })).toBe(
      'files under web, shared changed since :latest (its commit aaa is not in this clone)',
    );
    expect(reuseMiss(latest({ files: 'files-1' }), current, [''], { names: [] })).toBe(
      "the image's sources (.) or its Dockerfile moved since :latest",
    );
  });

  it('says what it can for a :latest without part labels or without a key', () => {
    const old = { 'berth.source': 'k0', 'org.opencontainers.image.revision': 'a'.repeat(40) };
    expect(reuseMiss(old, current, ['web'], { names: ['web/run.sh'] })).toBe(
      'web/run.sh changed; :latest has no per-input labels (built by an older berth), so its build args cannot be compared',
    );
    expect(reuseMiss({}, current, ['web'])).toBe(':latest has no source key (not built by berth build): nothing to compare with');
  });

  it('labels parts without values: arg values are hashes, empty parts are left out', () => {
    const labels = sourceLabels({ key: 'k', files: 'f', args: { TOKEN_URL: '0123456789ab' }, target: '', secrets: [] });
    expect(labels).toEqual({ 'berth.source': 'k', 'berth.source.files': 'f', 'berth.source.args': 'TOKEN_URL=0123456789ab' });
    expect(parseArgsLabel(labels['berth.source.args'])).toEqual({ TOKEN_URL: '0123456789ab' });
    expect(parseArgsLabel(undefined)).toEqual({});
  });

  it('warns about an arg of its own that carries the release: it would rebuild every commit', () => {
    const release = { tag: 'f'.repeat(40), time: '2026-11-28T12:00:00.000Z' };
    const images = [
      image('web', { BASE: 'busybox:1.36', VERSION: release.tag }),
      image('api', { BUILT: `at ${release.time}`, REV: release.tag, BERTH_SHA: release.tag }),
      image('worker', { BASE: 'busybox:1.36', BERTH_SHA: release.tag }),
    ];
    expect(releaseFedArgs(images, release)).toEqual([
      'web: build arg VERSION carries the release, so web is rebuilt on every commit; declare ARG BERTH_SHA (or BUILD_TIME) in its Dockerfile instead: berth passes it to every build and an unchanged image is still reused',
      'api: build arg BUILT, REV carry the release, so api is rebuilt on every commit; declare ARG BERTH_SHA (or BUILD_TIME) in its Dockerfile instead: berth passes it to every build and an unchanged image is still reused',
    ]);
  });

  it('lists one, two and three files the way a sentence does', () => {
    expect(changedFilesText(['a'])).toBe('a changed');
    expect(changedFilesText(['a', 'b'])).toBe('a and b changed');
    expect(changedFilesText(['a', 'b', 'c'])).toBe('a, b and c changed');
    expect(changedFilesText(['a', 'b', 'c', 'd'])).toBe('a, b, c and 1 more file changed');
  });
});

// What BuildKit printed on a builder with no DNS for the hub (docker build, plain progress).
const DNS = 'dial tcp: lookup registry-1.docker.io on 127.0.0.53:53: no such host';
const BUILDKIT_OUTPUT = `#1 [internal] load build definition from Dockerfile
#1 DONE 0.0s
#2 [internal] load metadata for docker.io/library/busybox:1.36
#2 ERROR: failed to do request: Head "https://registry-1.docker.io/v2/library/busybox/manifests/1.36": ${DNS}
------
 > [internal] load metadata for docker.io/library/busybox:1.36:
------
Dockerfile:2
--------------------
   1 |     ARG BASE=busybox:1.36
   2 | >>> FROM \${BASE}
--------------------
ERROR: failed to solve: busybox:1.36: failed to resolve source metadata for docker.io/library/busybox:1.36: failed to do request: Head "https://registry-1.docker.io/v2/library/busybox/manifests/1.36": ${DNS}
`;

const image = (service: string, args: Record<string, string>): ImageBuild => ({
  service,
  repository: `r/${service}`,
  context: `/src/${service}`,
  dockerfile: `/src/${service}/Dockerfile`,
  args,
  secrets: {},
  sources: [service],
});

describe('a base image the builder cannot reach', () => {
  it('reads the image, the host and the cause from BuildKit output', () => {
    expect(unreachableBase(BUILDKIT_OUTPUT)).toEqual({
      image: 'docker.io/library/busybox:1.36',
      host: 'registry-1.docker.io',
      cause: DNS,
    });
    expect(unreachableBase('#5 ERROR: process "/bin/sh -c make" did not complete successfully: exit code: 2')).toBeUndefined();
    // An image that does not exist is another failure, with its own words.
    expect(unreachableBase('ERROR: failed to solve: nosuch:1: docker.io/library/nosuch:1: not found')).toBeUndefined();
  });

  it('reads the legacy builder too', () => {
    const legacy = `Step 1/6 : ARG BASE=busybox:1.36\nStep 2/6 : FROM busybox:1.36\nGet "https://registry-1.docker.io/v2/": ${DNS}\n`;
    expect(unreachableBase(legacy)).toMatchObject({ image: 'busybox:1.36', host: 'registry-1.docker.io' });
  });

  it('names the build arg and the variable of the development view that avoid it, in one error without details', () => {
    const error = new CommandError('docker buildx bake', 1, BUILDKIT_OUTPUT);
    const compose = 'services:\n  web:\n    build:\n      args:\n        BASE: ${BASE_IMAGE:-busybox:1.36}\n';
    const found = unreachableBaseError(
      error,
      [image('web', { BASE: 'busybox:1.36' }), image('worker', { BASE: 'busybox:1.36' })],
      [compose],
    );
    expect(found).toBeInstanceOf(EngineError);
    expect(found?.details).toEqual([]);
    expect(found?.line).toBe(
      `the build of web, worker could not fetch its base image docker.io/library/busybox:1.36 from registry-1.docker.io: this machine cannot reach it; set BASE_IMAGE (it feeds build arg BASE) to a copy of the image in a registry or engine this builder reaches (${DNS})`,
    );
    // The DNS error is said once.
    expect(found?.line.split('no such host')).toHaveLength(2);
  });

  it('without a compose variable names --build-arg, and without an arg names the other ways', () => {
    const error = new CommandError('docker build', 1, BUILDKIT_OUTPUT);
    expect(unreachableBaseError(error, [image('web', { BASE: 'docker.io/library/busybox:1.36' })])?.fix).toMatch(
      /^this machine cannot reach it; pass --build-arg BASE=<image> to a copy/,
    );
    expect(unreachableBaseError(error, [image('web', {})])?.fix).toMatch(/registry mirror .*make the Dockerfile's FROM a build arg/);
    expect(unreachableBaseError(new CommandError('docker build', 1, 'exit code: 2'), [image('web', {})])).toBeUndefined();
  });

  it('matches the arg by the host when the builder does not name the image (legacy: FROM ${BASE})', () => {
    const legacy = `Step 2/6 : FROM \${BASE}\nGet "https://mirror.invalid/v2/": dial tcp: lookup mirror.invalid: no such host\n`;
    expect(unreachableBase(legacy)).toEqual({ host: 'mirror.invalid', cause: 'dial tcp: lookup mirror.invalid: no such host' });
    const error = unreachableBaseError(new CommandError('docker build', 1, legacy), [
      image('web', { BASE: 'mirror.invalid/busybox:1', NODE_ENV: 'production', OTHER: 'busybox:1' }),
    ]);
    expect(error?.line).toBe(
      'the build of web could not fetch a base image from mirror.invalid: this machine cannot reach it; pass --build-arg BASE=<image> to a copy of the image in a registry or engine this builder reaches (dial tcp: lookup mirror.invalid: no such host)',
    );
  });

  it('knows the hub spellings of one image and reads list-style args', () => {
    expect(sameImage('busybox:1.36', 'docker.io/library/busybox:1.36')).toBe(true);
    expect(sameImage('busybox', 'docker.io/library/busybox:latest')).toBe(true);
    expect(sameImage('team/app:1', 'docker.io/team/app:1')).toBe(true);
    expect(sameImage('busybox:1.36', 'busybox:1.37')).toBe(false);
    expect(variableOfArg(['      args:\n        - BASE=${BASE_IMAGE:-busybox}\n'], 'BASE')).toBe('BASE_IMAGE');
    expect(variableOfArg(['        BASE: busybox:1.36\n'], 'BASE')).toBeUndefined();
  });
});
