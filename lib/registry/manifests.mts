// What the registry already holds, asked over its HTTP API (nothing is pulled): is a tag there,
// which labels does an image carry, and tagging an existing manifest again without any layers
// moving (an unchanged image in a new release).
import { EngineError } from '../core/errors.mts';
import { registryHost, unauthorized, type RegistryClient, type RegistryCredentials } from './client.mts';

export const MANIFEST_TYPES = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
];
const ACCEPT = { accept: MANIFEST_TYPES.join(', ') };

/** `127.0.0.1:5000/team/app` -> `team/app`: the name the API paths use. */
export function repositoryPath(repository: string): string {
  const host = registryHost(repository);
  return repository.slice(host.length + 1);
}

export interface Manifest {
  digest: string;
  mediaType: string;
  /** The exact bytes: a manifest is addressed by their hash, so it is copied byte for byte. */
  body: Uint8Array;
}

export interface ManifestJson {
  mediaType?: string;
  config?: { digest: string };
  layers?: { digest: string; size: number }[];
  manifests?: { digest: string; platform?: { os?: string; architecture?: string } }[];
}

function failed(client: RegistryClient, what: string, response: Response, credentials?: RegistryCredentials): Error {
  if (response.status === 401 || response.status === 403) return unauthorized(client.registry, credentials);
  return new EngineError(`registry ${client.registry}: ${what} answered HTTP ${response.status}`);
}

/** HEAD of repository's manifest `reference` (a tag or a digest), its body already discarded. */
export async function headManifest(client: RegistryClient, repository: string, reference: string): Promise<Response> {
  const response = await client.request(`${repositoryPath(repository)}/manifests/${reference}`, { method: 'HEAD', headers: ACCEPT });
  await response.body?.cancel();
  return response;
}

/** The digest of repository:tag, or undefined when the registry does not have it. */
export async function manifestDigest(
  client: RegistryClient,
  repository: string,
  tag: string,
  credentials?: RegistryCredentials,
): Promise<string | undefined> {
  const response = await headManifest(client, repository, tag);
  if (response.status === 404) return undefined;
  if (!response.ok) throw failed(client, `HEAD ${repository}:${tag}`, response, credentials);
  const digest = response.headers.get('docker-content-digest');
  if (!digest) throw new EngineError(`registry ${client.registry} did not send a digest for ${repository}:${tag}`);
  return digest;
}

export async function getManifest(
  client: RegistryClient,
  repository: string,
  reference: string,
  credentials?: RegistryCredentials,
): Promise<Manifest | undefined> {
  const response = await client.request(`${repositoryPath(repository)}/manifests/${reference}`, { headers: ACCEPT });
  if (response.status === 404) {
    await response.body?.cancel();
    return undefined;
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw failed(client, `GET ${repository}:${reference}`, response, credentials);
  }
  const body = new Uint8Array(await response.arrayBuffer());
  const mediaType = (response.headers.get('content-type') ?? '').split(';')[0] ?? '';
  const digest = response.headers.get('docker-content-digest') ?? '';
  return { body, mediaType, digest };
}

export function parseManifest(manifest: Manifest): ManifestJson {
  return JSON.parse(Buffer.from(manifest.body).toString('utf8')) as ManifestJson;
}

/** Tags an existing manifest again: only the manifest travels, no layer is uploaded. */
export async function putManifest(
  client: RegistryClient,
  repository: string,
  tag: string,
  manifest: Manifest,
  credentials?: RegistryCredentials,
): Promise<string> {
  const response = await client.request(`${repositoryPath(repository)}/manifests/${tag}`, {
    method: 'PUT',
    headers: { 'content-type': manifest.mediaType },
    body: manifest.body,
  });
  await response.body?.cancel();
  if (!response.ok) throw failed(client, `PUT ${repository}:${tag}`, response, credentials);
  return response.headers.get('docker-content-digest') ?? manifest.digest;
}

/** Layer digests of an image manifest (of the linux/amd64 entry, or the first, for an index). */
export async function manifestLayers(
  client: RegistryClient,
  repository: string,
  reference: string,
  credentials?: RegistryCredentials,
): Promise<string[] | undefined> {
  const image = await imageManifest(client, repository, reference, credentials);
  return image ? (image.layers ?? []).map((layer) => layer.digest) : undefined;
}

/** The image manifest a reference names: itself, or for an index its linux/amd64 entry (else the first). */
export async function imageManifest(
  client: RegistryClient,
  repository: string,
  reference: string,
  credentials?: RegistryCredentials,
): Promise<ManifestJson | undefined> {
  const manifest = await getManifest(client, repository, reference, credentials);
  if (!manifest) return undefined;
  const json = parseManifest(manifest);
  if (!json.manifests) return json;
  const entry = json.manifests.find((m) => m.platform?.os === 'linux' && m.platform.architecture === 'amd64') ?? json.manifests[0];
  if (!entry) return undefined;
  const inner = await getManifest(client, repository, entry.digest, credentials);
  return inner ? parseManifest(inner) : undefined;
}

/** The labels in an image's config, read from the registry (one manifest and one small blob). */
export async function imageLabels(
  client: RegistryClient,
  repository: string,
  reference: string,
  credentials?: RegistryCredentials,
): Promise<Record<string, string> | undefined> {
  const image = await imageManifest(client, repository, reference, credentials);
  if (!image?.config) return undefined;
  const response = await client.request(`${repositoryPath(repository)}/blobs/${image.config.digest}`);
  if (!response.ok) {
    await response.body?.cancel();
    throw failed(client, `GET the config of ${repository}:${reference}`, response, credentials);
  }
  const config = (await response.json()) as { config?: { Labels?: Record<string, string> | null } };
  return config.config?.Labels ?? {};
}
