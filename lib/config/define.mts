import type { ProductDef } from './types.mts';

/** Identity at run time; it is here so product files get type-checked by `tsc --noEmit`. */
export function defineProduct<const T extends ProductDef>(product: T): T {
  return product;
}

export type { ProductDef, ServiceDef, SmokeCheck, HealthConfig, BuildConfig, ServiceKind } from './types.mts';
