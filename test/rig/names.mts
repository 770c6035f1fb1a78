// Every container, network, volume, image and Compose project a test file creates carries one
// random prefix, so cleanup can find exactly those things on a shared engine and nothing else.
import { randomBytes } from 'node:crypto';
import { afterAll } from 'vitest';
import { cleanupPrefix } from './cleanup.mts';

/** e.g. berthtest-3f9a1c: lowercase, valid as a Compose project and an image repository. */
export function newPrefix(): string {
  return `berthtest-${randomBytes(3).toString('hex')}`;
}

/** A prefix for this test file, whose leftovers are removed after the file (even on failure). */
export function usePrefix(): string {
  const prefix = newPrefix();
  afterAll(() => cleanupPrefix(prefix));
  return prefix;
}
