// One local registry per test file: pushes from one file never satisfy pulls in another.
import { afterAll, beforeAll } from 'vitest';
import { startLocalRegistry, type LocalRegistry } from '../../lib/dev/local-registry.mts';
import { rigRunner } from './engine.mts';

export interface RegistryHandle {
  /** 127.0.0.1:PORT; only valid inside tests (after beforeAll). */
  readonly address: string;
}

/** Call inside a describe (so describe.skipIf skips it too): starts before, stops after. */
export function useRegistry(): RegistryHandle {
  let registry: LocalRegistry | undefined;
  beforeAll(async () => {
    registry = await startLocalRegistry(rigRunner);
  });
  afterAll(async () => {
    await registry?.stop();
  });
  return {
    get address() {
      if (!registry) throw new Error('useRegistry: the registry is not started (read address inside a test)');
      return registry.address;
    },
  };
}
