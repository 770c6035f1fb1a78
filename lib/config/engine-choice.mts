// Which engine runs a product. The VM's BERTH_ENGINE is the default; a product may pin its own
// (`engine:` in its file), so one VM can move products to a swarm one at a time. Every command
// that acts on a product reads the engine from here, never from the settings alone.
import type { Product, Settings } from './load.mts';

export type EngineName = Settings['engine'];

export function engineOf(product: Pick<Product, 'def'> | undefined, settings: Pick<Settings, 'engine'>): EngineName {
  return product?.def.engine ?? settings.engine;
}

/** The settings a command acting on this product sees: the VM's, with the product's engine. */
export function productSettings<S extends Pick<Settings, 'engine'>>(product: Pick<Product, 'def'>, settings: S): S {
  const engine = engineOf(product, settings);
  return engine === settings.engine ? settings : { ...settings, engine };
}
