// Every product file, loaded where it can be. A product whose repo is not on this machine is
// normal (one VM does not run every product): it is reported as absent, never fatal. A product
// file that is wrong (its shape, its routes, the registry it needs) is a problem to fix: reported
// with its reason and fix, so that status can fail on it.
import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { BerthError, UsageError } from '../core/errors.mts';
import { importProduct, listProducts, loadProduct, type Product, type Settings } from './load.mts';
import type { ProductDef } from './types.mts';
import { validateProduct } from './validate.mts';

export interface CatalogueEntry {
  name: string;
  product?: Product;
  /** Why the product cannot be resolved on this machine. */
  problem?: string;
  /** What to do about the problem. */
  fix?: string;
  /** The problem is only that the product's repo is not on this machine: not deployed here. */
  absent?: boolean;
  projectName: string;
  stateDir: string;
}

/** A well-formed definition whose repo is not on this machine; false when the file itself is wrong. */
function absentRepo(value: unknown, name: string, settings: Settings): boolean {
  if (validateProduct(value, name).errors.length > 0) return false;
  const { repo } = value as ProductDef;
  return !existsSync(isAbsolute(repo) ? repo : resolve(settings.workspace, repo));
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
      let absent = false;
      try {
        const { value } = await importProduct(name, settings);
        projectName = (value as Partial<ProductDef> | undefined)?.projectName ?? name;
        absent = absentRepo(value, name, settings);
      } catch {
        // Unloadable file: its project name can only be the default.
      }
      entries.push({
        name,
        problem: error.details.length > 0 ? error.details.join('; ') : error.message,
        ...(error.fix ? { fix: error.fix } : {}),
        ...(absent ? { absent } : {}),
        projectName,
        stateDir,
      });
    }
  }
  return entries;
}
