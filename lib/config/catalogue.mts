// Every product file, loaded where it can be. A product whose repo is not on this machine is
// normal (one VM does not run every product): it is reported, never fatal.
import { join } from 'node:path';
import { BerthError, UsageError } from '../core/errors.mts';
import { importProduct, listProducts, loadProduct, type Product, type Settings } from './load.mts';
import type { ProductDef } from './types.mts';

export interface CatalogueEntry {
  name: string;
  product?: Product;
  /** Why the product cannot be resolved on this machine. */
  problem?: string;
  projectName: string;
  stateDir: string;
}

export async function loadCatalogue(settings: Settings, names?: string[]): Promise<CatalogueEntry[]> {
  const known = listProducts(settings);
  const unknown = (names ?? []).filter((n) => !known.includes(n));
  if (unknown.length > 0) {
    throw new UsageError(`unknown product ${unknown.join(', ')}`, { fix: `use one of ${known.join(', ') || '(none)'}` });
  }
  const entries: CatalogueEntry[] = [];
  for (const name of names ?? known) {
    const stateDir = join(settings.stateDir, name);
    try {
      const product = await loadProduct(name, settings);
      entries.push({ name, product, projectName: product.projectName, stateDir: product.stateDir });
    } catch (error) {
      if (!(error instanceof BerthError)) throw error;
      let projectName = name;
      try {
        const { value } = await importProduct(name, settings);
        projectName = (value as Partial<ProductDef> | undefined)?.projectName ?? name;
      } catch {
        // Unloadable file: its project name can only be the default.
      }
      entries.push({ name, problem: error.details.length > 0 ? error.details.join('; ') : error.message, projectName, stateDir });
    }
  }
  return entries;
}
