// Image size recorded at deploy, from the real registry: a deploy writes each service's compressed
// layer size into the ledger (as the registry's manifest lists it, asked here by the test itself),
// and the report shows it.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineAvailable, usePrefix, useRegistry } from '../rig/index.mts';
import { makeFixtureProduct, type FixtureProduct } from '../rig/fixture-product.mts';
import { readLedger } from '../../lib/releases/ledger.mts';

const ACCEPT = ['application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.oci.image.manifest.v1+json'].join(', ');

describe.skipIf(!engineAvailable)('image size in the ledger at deploy', () => {
  const prefix = usePrefix();
  const registry = useRegistry();
  let product: FixtureProduct;

  beforeAll(async () => {
    product = await makeFixtureProduct({
      prefix,
      registry: registry.address,
      services: { web: { product: `health: { path: '/healthz', port: 8080, timeoutSeconds: 20 }` } },
    });
    await product.pushApp('web', product.repo.sha);
  });
  afterAll(() => product?.remove());

  it("records the compressed size of the web image's layers, and the report shows it", async () => {
    const response = await fetch(`http://${registry.address}/v2/${prefix}-web/manifests/${product.repo.sha}`, {
      headers: { accept: ACCEPT },
    });
    expect(response.status).toBe(200);
    const manifest = (await response.json()) as { layers: { size: number }[] };
    const expected = manifest.layers.reduce((sum, layer) => sum + layer.size, 0);
    expect(expected).toBeGreaterThan(0);

    const deploy = await product.berth([product.name, '--tag', product.repo.sha]);
    expect(deploy.exitCode, deploy.stderr).toBe(0);
    const release = readLedger(join(product.stateDir, product.name)).at(-1);
    expect(release?.services.web).toMatchObject({ digest: expect.stringContaining(`${prefix}-web@sha256:`), sizeBytes: expected });

    const report = await product.berth([product.name, '--json'], { script: 'report' });
    expect(report.exitCode, report.stderr).toBe(0);
    const json = JSON.parse(report.stdout);
    expect(json.products[0].images).toEqual([
      { service: 'web', over: false, points: [{ tag: product.repo.sha, time: release?.time, sizeBytes: expected }] },
    ]);
    expect(json.products[0].metrics).toMatchObject({ deploys: 1, changeFailureRate: 0 });
  });
});
