// A products directory outside the checkout, as an operator keeps one in /etc/berth/products:
// `npx zx scripts/status.mts --json` loads a product file there that imports 'berth', and names
// one whose import cannot resolve as exactly that. Nothing is deployed; status only reads.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusReport } from '../../lib/ops/status.mts';
import {
  engineAvailable,
  makeFixtureRepo,
  makeProductsDir,
  REPO_ROOT,
  rigRunner,
  usePrefix,
  writeFixtureProduct,
  type FixtureRepo,
} from '../rig/index.mts';

describe.skipIf(!engineAvailable)('a products dir outside the checkout', () => {
  const prefix = usePrefix();
  let products: { dir: string; remove(): Promise<void> };
  let repo: FixtureRepo;

  beforeAll(async () => {
    products = await makeProductsDir();
    repo = await makeFixtureRepo({
      files: { 'compose.yaml': `services:\n  web:\n    image: \${REGISTRY}/${prefix}-web:\${IMAGE_TAG:-latest}\n` },
    });
    const body = (name: string) =>
      `export default defineProduct({ name: '${name}', repo: '${repo.dir}', composeFiles: ['compose.yaml'], services: { web: { kind: 'http' } } });\n`;
    await writeFixtureProduct(products.dir, prefix, `import { defineProduct } from '{{DEFINE}}';\n${body(prefix)}`);
    await writeFixtureProduct(
      products.dir,
      `${prefix}-old`,
      `import { defineProduct } from '../lib/config/define.mts';\n${body(`${prefix}-old`)}`,
    );
  });
  afterAll(async () => {
    await products?.remove();
    await repo?.remove();
  });

  it('status --json through npx zx loads the one and names the unresolvable import of the other', async () => {
    expect(products.dir.startsWith(REPO_ROOT)).toBe(false);
    const result = await rigRunner.probe(['npx', '--no-install', 'zx', 'scripts/status.mts', '--json'], {
      cwd: REPO_ROOT,
      env: {
        NO_COLOR: '1',
        BERTH_PRODUCTS_DIR: products.dir,
        BERTH_REGISTRY: '127.0.0.1:5999',
        BERTH_ENV_FILE: '/nonexistent/.env',
        BERTH_STATE_DIR: `${products.dir}/state`,
      },
    });
    // The one that cannot load is a product in error: everything is printed, then status exits 2.
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toContain(`error: ${prefix}-old: ${products.dir}/${prefix}-old.mts imports '../lib/config/define.mts'`);
    const report = JSON.parse(result.stdout) as StatusReport;
    expect(report.products.map((p) => p.product)).toEqual([prefix, `${prefix}-old`]);
    const [loaded, old] = report.products;
    expect(loaded).toMatchObject({ state: 'not deployed here', services: [] });
    expect(loaded?.reason).toBeUndefined();
    expect(old?.state).toBe('error');
    expect(old?.reason).toBe(
      `${products.dir}/${prefix}-old.mts imports '../lib/config/define.mts', which berth cannot resolve (expected ${products.dir.replace(/\/[^/]+$/, '')}/lib/config/define.mts)`,
    );
  });
});
