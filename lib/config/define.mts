// What product and edge files import as 'berth' (or 'berth/define'): berth's loader resolves
// that name to this file wherever the file lives (definition-import.mts), and package.json's
// exports resolves it for tsc and editors inside the checkout.
import type { EdgeDef, ProductDef } from './types.mts';

/** Identity at run time; it is here so product files get type-checked by `tsc --noEmit`. */
export function defineProduct<const T extends ProductDef>(product: T): T {
  return product;
}

/** The shared edge proxy of this VM (`<products dir>/edge.mts`); identity at run time, like defineProduct. */
export function defineEdge<const T extends EdgeDef>(edge: T): T {
  return edge;
}

export type { EdgeDef, RouteDef } from './types.mts';
export type { ProductDef, ServiceDef, SmokeCheck, HealthConfig, BuildConfig, ServiceKind } from './types.mts';
