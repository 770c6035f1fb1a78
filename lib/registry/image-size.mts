// How big an image is where it matters for a pull: the compressed size of its layers, as its
// registry manifest lists them (for an index, the linux/amd64 image, else the first). One manifest
// GET, two for an index; no layer is downloaded.
import { errorMessage } from '../core/errors.mts';
import { createRegistryClient, registryHost, type RegistryClient, type RegistryCredentials } from './client.mts';
import { imageManifest } from './manifests.mts';

/** Bytes of the image's compressed layers, or undefined when the registry has no such manifest. */
export async function imageSize(
  client: RegistryClient,
  repository: string,
  reference: string,
  credentials?: RegistryCredentials,
): Promise<number | undefined> {
  const image = await imageManifest(client, repository, reference, credentials);
  if (!image) return undefined;
  return (image.layers ?? []).reduce((sum, layer) => sum + (Number.isFinite(layer.size) ? layer.size : 0), 0);
}

export type ImageSizes = (digestRef: string) => Promise<{ bytes: number } | { unknown: string }>;

/** Sizes of repo@sha256:... references, one client per registry; every failure is an answer, never a throw. */
export function createImageSizes(credentials: RegistryCredentials | undefined, timeoutMs = 5_000): ImageSizes {
  const clients = new Map<string, RegistryClient>();
  return async (digestRef) => {
    const at = digestRef.indexOf('@');
    const repository = at > 0 ? digestRef.slice(0, at) : '';
    const host = registryHost(repository);
    if (!repository.includes('/') || !/[.:]|^localhost$/.test(host)) return { unknown: `${digestRef} names no registry berth can ask` };
    let client = clients.get(host);
    if (!client) {
      client = createRegistryClient(host, credentials, { timeoutMs });
      clients.set(host, client);
    }
    try {
      const bytes = await imageSize(client, repository, digestRef.slice(at + 1), credentials);
      return bytes === undefined ? { unknown: `the registry has no ${digestRef}` } : { bytes };
    } catch (error) {
      return { unknown: errorMessage(error) };
    }
  };
}
