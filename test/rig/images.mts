// Fixture images under fixed tags (not the per-file prefix): they are rebuilt only when their
// content hash changes, so every test file after the first gets them in milliseconds. Tests
// `docker tag` them into prefixed names, which cleanup removes.
import { buildCaddyImage, buildHttpAppImage, type BuiltImage, type HttpAppOptions } from '../../lib/dev/scratch-images.mts';
import { rigRunner } from './engine.mts';

export const FIXTURE_REPOSITORY = 'berth-fixture';

/** The busybox HTTP app answering `version` on /version, healthcheck on /healthz. */
export function fixtureAppImage(version: string, options: Omit<HttpAppOptions, 'version'> = {}): Promise<BuiltImage> {
  const suffix = `${options.healthy === false ? '-unhealthy' : ''}${options.healthyDelaySeconds ? `-slow${options.healthyDelaySeconds}` : ''}`;
  const port = options.port && options.port !== 8080 ? `-p${options.port}` : '';
  return buildHttpAppImage(rigRunner, { ...options, version, tag: `${FIXTURE_REPOSITORY}/http-app:${version}${port}${suffix}` });
}

/** Caddy in scratch; mount a Caddyfile at /etc/caddy/Caddyfile. */
export function fixtureCaddyImage(): Promise<BuiltImage> {
  return buildCaddyImage(rigRunner, { tag: `${FIXTURE_REPOSITORY}/caddy:latest` });
}
