import { describe, expect, it } from 'vitest';
import { withImageWaitDefault } from '../../lib/entries/deploy.mts';
import { imageWaitMs } from '../../lib/ops/deploy-request.mts';
import { judgeContainers } from '../../lib/deploy/plan/running-config.mts';
import { configDigest, configIdentity } from '../../lib/deploy/replica/labels.mts';
import { ownImages, parseDuration } from '../../lib/releases/branch-tip.mts';
import { BerthError } from '../../lib/core/errors.mts';
import { containerState } from '../support/containers.mts';

const HASH = 'compose.config-hash';

describe('the running config of a service', () => {
  const config = { image: 'reg/shop-web:c1', environment: { MSG: 'two' } };
  const digest = configDigest(config);
  const replica = (d: string) => containerState({ id: 'r1', name: 'shop-web-2', labels: { 'berth.config-digest': d } });
  const byCompose = (hash: string, image = 'reg/shop-web:c1') =>
    containerState({ id: 'c1', name: 'shop-web-1', image, labels: { [`com.docker.${HASH}`]: hash } });

  it('is the same whatever the release tag: the image is compared by id elsewhere', () => {
    expect(configDigest({ ...config, image: 'reg/shop-web:c2' })).toBe(digest);
    expect(configDigest({ ...config, environment: { MSG: 'three' } })).not.toBe(digest);
  });

  it("judges berth's replicas by its digest and Compose's containers by Compose's hash for the image they run", () => {
    expect(judgeContainers([replica(digest)], digest, undefined)).toEqual({ state: 'same' });
    expect(judgeContainers([replica('other')], digest, undefined)).toEqual({ state: 'differs', containers: ['shop-web-2'] });
    const hashes = (image: string) => (image === 'reg/shop-web:c1' ? 'h1' : undefined);
    expect(judgeContainers([byCompose('h1')], digest, hashes)).toEqual({ state: 'same' });
    expect(judgeContainers([byCompose('h0'), replica(digest)], digest, hashes)).toEqual({ state: 'differs', containers: ['shop-web-1'] });
  });

  it('is unknown when a container has no label to compare or Compose gave no hash', () => {
    expect(judgeContainers([containerState({ id: 'x', name: 'bare' })], digest, () => 'h1')).toMatchObject({ state: 'unknown' });
    expect(judgeContainers([byCompose('h1')], digest, undefined)).toMatchObject({ state: 'unknown' });
    expect(judgeContainers([byCompose('h1', 'reg/shop-web:c0')], digest, (i) => (i.endsWith(':c1') ? 'h1' : undefined))).toMatchObject({
      state: 'unknown',
    });
  });

  it("names the config a container says it runs: berth's digest before Compose's hash", () => {
    expect(configIdentity({ 'berth.config-digest': 'd', [`com.docker.${HASH}`]: 'h' })).toBe('berth:d');
    expect(configIdentity({ [`com.docker.${HASH}`]: 'h' })).toBe('compose:h');
    expect(configIdentity({})).toBeUndefined();
  });
});

describe('the default release: the tip of the deploy branch', () => {
  it('asks the registry for the images CI builds per commit: the http and worker services', () => {
    const services = {
      web: { kind: 'http', repository: 'reg/shop-web' },
      jobs: { kind: 'worker', repository: 'reg/shop-jobs' },
      db: { kind: 'stateful', repository: 'reg/shop-db' },
      proxy: { kind: 'proxy', repository: 'reg/shop-proxy' },
    } as never;
    expect(ownImages({ services }, 'c0ffee1')).toEqual([
      { service: 'web', ref: 'reg/shop-web:c0ffee1' },
      { service: 'jobs', ref: 'reg/shop-jobs:c0ffee1' },
    ]);
  });

  it('reads --wait-for-images durations; a bare flag waits 15 minutes', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('10m')).toBe(600_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('30')).toBe(30_000);
    expect(parseDuration('soon')).toBeUndefined();
    expect(withImageWaitDefault(['shop', '--wait-for-images', '--dry-run'])).toEqual(['shop', '--wait-for-images=15m', '--dry-run']);
    expect(imageWaitMs('15m', undefined)).toBe(900_000);
    expect(imageWaitMs(undefined, 'c0ffee1')).toBeUndefined();
  });

  it('refuses a duration it cannot read, and --wait-for-images beside --tag, naming the fix', () => {
    const line = (f: () => unknown) => {
      try {
        f();
      } catch (error) {
        return error instanceof BerthError ? error.line : String(error);
      }
      return 'no error';
    };
    expect(line(() => imageWaitMs('soon', undefined))).toBe(
      '--wait-for-images=soon is not a duration: give one like 90s, 10m or 1h (bare: 15m)',
    );
    expect(line(() => imageWaitMs('0s', undefined))).toMatch(/is not a duration/);
    expect(line(() => imageWaitMs('10m', 'c0ffee1'))).toMatch(
      /^--wait-for-images waits for the tip of the deploy branch, not for --tag: drop/,
    );
  });
});
