// Product definitions written on the fly. They import defineProduct by absolute file URL, so a
// products dir anywhere (a temp dir) loads this checkout's lib, wherever it is cloned.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const DEFINE_URL = new URL('../../lib/config/define.mts', import.meta.url).href;

export async function makeProductsDir(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-products-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Writes productsDir/<name>.mts with every {{DEFINE}} replaced by DEFINE_URL; returns its path. */
export async function writeFixtureProduct(productsDir: string, name: string, source: string): Promise<string> {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new Error(`bad product name: ${name}`);
  await mkdir(productsDir, { recursive: true });
  const path = join(productsDir, `${name}.mts`);
  await writeFile(path, source.replaceAll('{{DEFINE}}', DEFINE_URL));
  return path;
}
