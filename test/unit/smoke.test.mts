// What a smoke check's {tag} accepts: the release tag, or the commit an http service's deployed
// image was built from (its revision label), so an image reused from an earlier commit passes.
import { describe, expect, it } from 'vitest';
import type { Product } from '../../lib/config/load.mts';
import { buildCommits, smokeFailure } from '../../lib/deploy/steps/smoke.mts';
import { containerState } from '../support/containers.mts';
import { fakeRunner } from '../support/fake-runner.mts';

const TAG = 'c'.repeat(40);
const OLD = 'a'.repeat(40);
const check = { path: '/version', contains: '{tag}' };

describe('{tag} in a smoke check', () => {
  it('accepts the release tag', () => {
    expect(smokeFailure(check, { tag: TAG, builtFrom: { web: OLD } }, { status: 200, body: TAG })).toBeUndefined();
  });

  it('accepts the commit a reused http image was built from, and says both when neither is there', () => {
    expect(smokeFailure(check, { tag: TAG, builtFrom: { web: OLD } }, { status: 200, body: `${OLD}\n` })).toBeUndefined();
    expect(
      smokeFailure(
        { path: '/v', contains: 'version {tag}' },
        { tag: 'v2', builtFrom: { web: 'v1', api: 'v1' } },
        { status: 200, body: 'version v0' },
      ),
    ).toBe("/v: body does not contain 'version v2' nor 'version v1' (the commit web, api were built from) (got 'version v0')");
  });

  it('without build commits is the plain rule; a check without {tag} never takes a commit', () => {
    expect(smokeFailure(check, TAG, { status: 200, body: 'release old' })).toBe(
      `/version: body does not contain '${TAG}' (got 'release old')`,
    );
    expect(smokeFailure(check, { tag: TAG, builtFrom: { web: TAG } }, { status: 200, body: 'x' })).toBe(
      `/version: body does not contain '${TAG}' (got 'x')`,
    );
    expect(smokeFailure({ path: '/', contains: 'ok' }, { tag: TAG, builtFrom: { web: OLD } }, { status: 200, body: OLD })).toBe(
      "/: body does not contain 'ok' (got 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa')",
    );
    expect(smokeFailure(check, { tag: TAG, builtFrom: { web: OLD } }, { status: 502, body: OLD })).toBe(
      '/version: expected HTTP 200, got 502',
    );
  });

  it("reads each http service's build commit from the image its serving containers run: new ones, else kept ones", async () => {
    const labels = (revision?: string) => ({
      stdout: JSON.stringify([{ Id: 'x', Config: { Labels: revision ? { 'org.opencontainers.image.revision': revision } : null } }]),
    });
    const runner = fakeRunner([
      [/^docker image inspect sha256:web-new$/, labels(TAG)],
      [/^docker image inspect sha256:api-kept$/, labels(OLD)],
      [/^docker image inspect sha256:plain$/, labels()],
    ]);
    const product = {
      services: {
        web: { kind: 'http' },
        api: { kind: 'http' },
        other: { kind: 'http' },
        worker: { kind: 'worker' },
        proxy: { kind: 'proxy' },
      },
    } as unknown as Product;
    const commits = await buildCommits({
      product,
      runner,
      fresh: { web: [containerState({ id: 'w2', service: 'web', imageId: 'sha256:web-new' })] },
      before: {
        web: [containerState({ id: 'w1', service: 'web', imageId: 'sha256:web-old' })],
        api: [containerState({ id: 'a1', service: 'api', imageId: 'sha256:api-kept' })],
        other: [containerState({ id: 'o1', service: 'other', imageId: 'sha256:plain' })],
        worker: [containerState({ id: 'k1', service: 'worker', imageId: 'sha256:worker' })],
      },
    });
    expect(commits).toEqual({ web: TAG, api: OLD });
    expect(runner.calls.sort()).toEqual([
      'docker image inspect sha256:api-kept',
      'docker image inspect sha256:plain',
      'docker image inspect sha256:web-new',
    ]);
  });
});
