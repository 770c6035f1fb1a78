// The integration test rig in one import.
export * from './cleanup.mts';
export * from './cli.mts';
export * from './engine.mts';
export * from './http.mts';
export * from './images.mts';
export * from './names.mts';
export * from './product.mts';
export * from './registry.mts';
export * from './repo.mts';
export * from './load.mts';
