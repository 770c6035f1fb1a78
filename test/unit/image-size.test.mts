// Image sizes from registry manifests (an in-process registry speaking the manifest API), reused
// from the ledger at deploy, warned about at build against maxImageMb, and as Prometheus gauges.
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBuildContext } from '../../lib/build/context.mts';
import type { ImageBuild } from '../../lib/build/plan.mts';
import { verify } from '../../lib/build/steps/verify.mts';
import type { Product, Settings } from '../../lib/config/load.mts';
import { addImageSizes } from '../../lib/deploy/image-sizes.mts';
import { createRegistryClient } from '../../lib/registry/client.mts';
import { createImageSizes, imageSize } from '../../lib/registry/image-size.mts';
import { appendRelease, type ServiceImage } from '../../lib/releases/ledger.mts';
import { productReport } from '../../lib/report/delivery.mts';
import { deliverySamples, renderTextfile } from '../../lib/report/metrics.mts';
import { fakeRunner } from '../support/fake-runner.mts';
import { recordingUi } from './deploy-world.mts';

const MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';
const digestOf = (body: string) => `sha256:${createHash('sha256').update(body).digest('hex')}`;

/** repo:ref -> manifest body; a digest reference finds the body with that hash. */
const manifests = new Map<string, { body: string; type: string }>();
let requests = 0;
function put(repo: string, tag: string, body: object, type = MANIFEST): string {
  const text = JSON.stringify(body);
  manifests.set(`${repo}:${tag}`, { body: text, type });
  manifests.set(`${repo}:${digestOf(text)}`, { body: text, type });
  return digestOf(text);
}
const image = (...sizes: number[]) => ({
  schemaVersion: 2,
  mediaType: MANIFEST,
  config: { digest: 'sha256:c', size: 10 },
  layers: sizes.map((size, i) => ({ digest: `sha256:l${i}`, size })),
});

let server: Server;
let reg = '';
const dir = mkdtempSync(join(tmpdir(), 'berth-image-size-'));
beforeAll(async () => {
  server = createServer((request, response) => {
    requests++;
    const match = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(request.url ?? '');
    const found = match && manifests.get(`${match[1]}:${match[2]}`);
    if (!found) return void response.writeHead(404).end();
    response.writeHead(200, { 'content-type': found.type, 'docker-content-digest': digestOf(found.body) });
    response.end(request.method === 'HEAD' ? undefined : found.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  reg = `127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

describe('image size from the registry manifest', () => {
  it('sums the compressed layers (not the config); for an index, of the linux/amd64 image', async () => {
    const client = createRegistryClient(reg);
    put('app-web', 'v1', image(300, 700, 5));
    expect(await imageSize(client, `${reg}/app-web`, 'v1')).toBe(1005);
    const arm = put('app-api', 'arm', image(1));
    const amd = put('app-api', 'amd', image(40, 2));
    put(
      'app-api',
      'v1',
      {
        schemaVersion: 2,
        mediaType: INDEX,
        manifests: [
          { digest: arm, platform: { os: 'linux', architecture: 'arm64' } },
          { digest: amd, platform: { os: 'linux', architecture: 'amd64' } },
        ],
      },
      INDEX,
    );
    expect(await imageSize(client, `${reg}/app-api`, 'v1')).toBe(42);
    expect(await imageSize(client, `${reg}/app-api`, 'nope')).toBeUndefined();
  });

  it('answers instead of throwing: a digest reference, an unknown one, a name with no registry', async () => {
    const digest = put('app-web', 'v2', image(1, 2, 3));
    const sizes = createImageSizes(undefined, 2_000);
    expect(await sizes(`${reg}/app-web@${digest}`)).toEqual({ bytes: 6 });
    expect(await sizes(`${reg}/app-web@sha256:${'0'.repeat(64)}`)).toEqual({
      unknown: `the registry has no ${reg}/app-web@sha256:${'0'.repeat(64)}`,
    });
    expect(await sizes('library/nginx@sha256:1')).toMatchObject({ unknown: expect.stringContaining('names no registry') });
  });

  it('at deploy: reuses a size the ledger knows for the digest, asks the registry for a new one, asks nothing offline', async () => {
    const stateDir = join(dir, 'state');
    mkdirSync(stateDir, { recursive: true });
    const known = `${reg}/app-web@sha256:${'1'.repeat(64)}`;
    appendRelease(stateDir, {
      time: new Date().toISOString(),
      who: 'ops',
      host: 'vm',
      product: 'app',
      tag: 'v0',
      kind: 'deploy',
      result: 'ok',
      services: { web: { image: 'x', digest: known, sizeBytes: 777 } },
      changed: ['web'],
    });
    const fresh = `${reg}/app-web@${put('app-web', 'v3', image(10, 20))}`;
    const images: Record<string, ServiceImage> = {
      web: { image: 'a', digest: known },
      api: { image: 'b', digest: fresh },
      db: { image: 'postgres:16' },
    };
    const before = requests;
    await addImageSizes(images, { stateDir, env: {}, ui: recordingUi() });
    expect(images).toEqual({
      web: { image: 'a', digest: known, sizeBytes: 777 },
      api: { image: 'b', digest: fresh, sizeBytes: 30 },
      db: { image: 'postgres:16' },
    });
    expect(requests - before).toBe(1);
    const offline: Record<string, ServiceImage> = {
      web: { image: 'a', digest: known },
      api: { image: 'b', digest: `${reg}/app-web@sha256:${'2'.repeat(64)}` },
    };
    const quiet = requests;
    await addImageSizes(offline, { stateDir, env: {}, offline: true, ui: recordingUi() });
    expect(offline.web?.sizeBytes).toBe(777);
    expect(offline.api?.sizeBytes).toBeUndefined();
    expect(requests).toBe(quiet);
  });

  it('at build: the verify step records each pushed image size and warns about one over maxImageMb', async () => {
    put('shop-web', 'rel', image(600_000_000, 1_000_000));
    put('shop-api', 'rel', image(100));
    const product = {
      name: 'shop',
      registry: reg,
      services: {
        web: { name: 'web', kind: 'http', repository: `${reg}/shop-web`, maxImageMb: 500 },
        api: { name: 'api', kind: 'http', repository: `${reg}/shop-api`, maxImageMb: 500 },
      },
    } as unknown as Product;
    const ui = recordingUi();
    const ctx = createBuildContext(product, { env: {} } as unknown as Settings, fakeRunner([]), ui, {
      push: true,
      cache: 'none',
      parallel: 1,
    });
    ctx.release = { sha: 'abc', tag: 'rel', dirty: true, time: new Date().toISOString() };
    ctx.images = ['web', 'api'].map((service) => ({ service, repository: `${reg}/shop-${service}` }) as unknown as ImageBuild);
    ctx.state = { web: { action: 'build', reason: 'x' }, api: { action: 'build', reason: 'x' } };
    await verify.run(ctx);
    expect([ctx.state.web?.sizeBytes, ctx.state.api?.sizeBytes]).toEqual([601_000_000, 100]);
    expect(ui.lines.filter((l) => l.includes('maxImageMb'))).toEqual([
      expect.stringContaining('web: image is 601.0 MB compressed, over its maxImageMb of 500'),
    ]);
  });

  it('as Prometheus gauges: the delivery metrics and the newest image size; no gauge where there is no sample', () => {
    const time = new Date().toISOString();
    const report = productReport(
      {
        product: 'app',
        records: [
          {
            time,
            who: 'ops',
            host: 'vm',
            product: 'app',
            tag: 'v1',
            kind: 'deploy',
            result: 'ok',
            services: { web: { image: 'w', sizeBytes: 1234 } },
            changed: ['web'],
            durationsMs: { total: 8000 },
          },
        ],
      },
      { since: new Date(Date.now() - 30 * 86_400_000), until: new Date(Date.now() + 1000) },
    );
    const text = renderTextfile('', [], deliverySamples(report));
    expect(text).toContain('berth_delivery_deploys_per_day{product="app"} 0.03');
    expect(text).toContain('berth_delivery_change_failure_ratio{product="app"} 0');
    expect(text).toContain('berth_delivery_deploy_duration_seconds{product="app",quantile="0.5"} 8');
    expect(text).toContain('berth_delivery_rollbacks{product="app",kind="manual"} 0');
    expect(text).toContain('berth_image_size_bytes{product="app",service="web"} 1234');
    expect(text).toContain('# TYPE berth_delivery_deploys_per_day gauge');
    // No failure yet and no commit time: no restore and no lead-time gauge, never NaN.
    expect(text).not.toMatch(/berth_delivery_time_to_restore_seconds\{|berth_delivery_lead_time_seconds\{|NaN/);
  });
});
