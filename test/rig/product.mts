// Product definitions written on the fly, in a temp dir outside the checkout. They import
// defineProduct by the stable name 'berth', as an operator's /etc/berth/products would: every
// berth process the tests start resolves it to this checkout's lib.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** This checkout's define.mts by absolute file URL, for a file imported by the test process itself. */
export const DEFINE_URL = new URL('../../lib/config/define.mts', import.meta.url).href;

/** What {{DEFINE}} becomes: the name berth resolves wherever the product file lives. */
export const DEFINE_IMPORT = 'berth';

export async function makeProductsDir(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-products-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Writes productsDir/<name>.mts with every {{DEFINE}} replaced by DEFINE_IMPORT; returns its path. */
export async function writeFixtureProduct(productsDir: string, name: string, source: string): Promise<string> {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new Error(`bad product name: ${name}`);
  await mkdir(productsDir, { recursive: true });
  const path = join(productsDir, `${name}.mts`);
  await writeFile(path, source.replaceAll('{{DEFINE}}', DEFINE_IMPORT));
  return path;
}
