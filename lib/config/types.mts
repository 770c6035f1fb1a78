// Products are data. Their types are inferred from the one schema in product-schema.mts, which
// validate.mts also runs, because a product file is written by hand.
export type { ProductDef, ServiceDef, SmokeCheck, HealthConfig, BuildConfig, ServiceKind, RouteDef, EdgeDef } from './product-schema.mts';
