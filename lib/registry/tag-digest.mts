// "Which image does repo:tag name in the registry now?", for a caller that only acts on a sure
// answer (change detection): one manifest HEAD, and every failure is an answer saying why, never a
// throw, so a registry that cannot be asked leaves the caller's own decision standing.
import { errorMessage } from '../core/errors.mts';
import { createRegistryClient, registryHost, type RegistryClient, type RegistryCredentials } from './client.mts';
import { manifestDigest } from './manifests.mts';

export type TagDigest = { digest: string } | { unknown: string };
export type TagDigests = (repository: string, tag: string) => Promise<TagDigest>;

/** A registry host names a port, a domain or localhost; anything else is a Docker Hub namespace. */
export function hasRegistryHost(repository: string): boolean {
  return repository.includes('/') && /[.:]|^localhost$/.test(registryHost(repository));
}

/** One client per registry, so a Bearer token fetched for one repository is not fetched again. */
export function createTagDigests(credentials: RegistryCredentials | undefined, timeoutMs = 5_000): TagDigests {
  const clients = new Map<string, RegistryClient>();
  return async (repository, tag) => {
    if (!hasRegistryHost(repository)) return { unknown: `${repository} names no registry berth can ask` };
    const host = registryHost(repository);
    let client = clients.get(host);
    if (!client) {
      client = createRegistryClient(host, credentials, { timeoutMs });
      clients.set(host, client);
    }
    try {
      const digest = await manifestDigest(client, repository, tag, credentials);
      return digest ? { digest } : { unknown: `the registry has no ${repository}:${tag}` };
    } catch (error) {
      return { unknown: errorMessage(error) };
    }
  };
}
