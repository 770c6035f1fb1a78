// The one way berth asks a registry about an image: "is it there, and which digest is it?", for an
// image a ledger knows by digest (repo@sha256:...) or a release's tag (repo:<sha>) CI may not have
// pushed yet, or whose tag may name a rebuilt image (change detection). Asked over the registry API
// with the one client (and berth's credentials when it has them); a registry that wants credentials
// berth was not given is asked through docker, which may hold them from an earlier `docker login`
// (it pulls nothing). Every failure is an answer saying why, never a throw.
import { dockerManifestInspect } from '../commands/images.mts';
import { EngineError } from '../core/errors.mts';
import type { Runner } from '../core/runner.mts';
import { createRegistryClient, registryApiBase, registryHost, type RegistryClient, type RegistryCredentials } from './client.mts';
import { headManifest, repositoryPath } from './manifests.mts';

export interface RegistryAnswer {
  exists: boolean;
  detail: string;
  /** The registry answered that it has no such manifest (not: could not be asked). */
  absent?: boolean;
  /** The manifest's digest, when the registry API answered (docker's fallback does not say). */
  digest?: string;
}

/** A registry host names a port, a domain or localhost; anything else is a Docker Hub namespace. */
export function hasRegistryHost(repository: string): boolean {
  return repository.includes('/') && /[.:]|^localhost$/.test(registryHost(repository));
}

/** repo@sha256:... or repo:tag -> its registry, repository and reference; undefined without a registry host. */
function splitDigestRef(imageRef: string): { registry: string; repository: string; digest: string } | undefined {
  const at = imageRef.indexOf('@');
  const colon = imageRef.lastIndexOf(':');
  const cut = at >= 0 ? at : colon > imageRef.lastIndexOf('/') ? colon : -1;
  if (cut < 0) return undefined;
  const repository = imageRef.slice(0, cut);
  if (!hasRegistryHost(repository)) return undefined;
  return { registry: registryHost(repository), repository, digest: imageRef.slice(cut + 1) };
}

/** repo@sha256:... -> where to ask the registry. Undefined for a reference without a registry host. */
export function manifestUrl(digestRef: string): string | undefined {
  const ref = splitDigestRef(digestRef);
  return ref && `${registryApiBase(ref.registry)}${repositoryPath(ref.repository)}/manifests/${ref.digest}`;
}

/** The network failure inside the client's error, as a code (ECONNREFUSED) or an error name. */
function failureCode(error: EngineError): string {
  const failure = error.cause;
  return (failure as { cause?: { code?: string } }).cause?.code ?? (failure instanceof Error ? failure.name : String(failure));
}

/**
 * Answers are remembered per reference, and a registry that does not answer is asked once, so
 * status over many releases costs one timeout, not one per image.
 */
export type DigestLookup = (imageRef: string) => Promise<RegistryAnswer>;

export function createDigestLookup(runner: Runner, timeoutMs = 3_000, credentials?: RegistryCredentials): DigestLookup {
  const answers = new Map<string, Promise<RegistryAnswer>>();
  const clients = new Map<string, RegistryClient>();
  const downHosts = new Map<string, string>();

  async function viaApi(registry: string, repository: string, digest: string): Promise<RegistryAnswer | undefined> {
    const host = new URL(registryApiBase(registry)).host;
    const down = downHosts.get(host);
    if (down) return { exists: false, detail: down };
    let client = clients.get(registry);
    if (!client) {
      client = createRegistryClient(registry, credentials, { timeoutMs });
      clients.set(registry, client);
    }
    try {
      const response = await headManifest(client, repository, digest);
      if (response.status === 200) {
        const found = response.headers.get('docker-content-digest');
        return { exists: true, detail: 'the registry has it', ...(found ? { digest: found } : {}) };
      }
      if (response.status === 404) return { exists: false, absent: true, detail: 'the registry no longer has it' };
      if (response.status !== 401 && response.status !== 403)
        return { exists: false, detail: `the registry answered HTTP ${response.status}` };
      // berth's own credentials were refused: docker's would be the same ones.
      if (credentials) return { exists: false, detail: `the registry refused berth's credentials (HTTP ${response.status})` };
      return undefined;
    } catch (error) {
      if (!(error instanceof EngineError) || error.cause === undefined) return undefined;
      const detail = `the registry ${host} is unreachable (${failureCode(error)})`;
      downHosts.set(host, detail);
      return { exists: false, detail };
    }
  }

  async function viaDocker(digestRef: string): Promise<RegistryAnswer> {
    const insecure = manifestUrl(digestRef)?.startsWith('http:') ?? false;
    const result = await runner.probe(dockerManifestInspect(digestRef, { insecure }), { timeoutMs: 30_000 });
    if (result.exitCode === 0) return { exists: true, detail: 'the registry has it' };
    const last = runner.redact(`${result.stderr}`.trim().split('\n').pop() ?? '');
    // docker's words when the registry answered "no such manifest" (a 404 behind a login).
    const absent = /manifest unknown|no such manifest/i.test(result.stderr);
    return { exists: false, ...(absent ? { absent } : {}), detail: `the registry says: ${last || `exit ${result.exitCode}`}` };
  }

  async function ask(digestRef: string): Promise<RegistryAnswer> {
    const ref = splitDigestRef(digestRef);
    return (ref && (await viaApi(ref.registry, ref.repository, ref.digest))) ?? viaDocker(digestRef);
  }

  return (digestRef) => {
    let answer = answers.get(digestRef);
    if (!answer) {
      answer = ask(digestRef);
      answers.set(digestRef, answer);
    }
    return answer;
  };
}

/** "Which image does repo:tag name now?" for a caller that only acts on a sure answer. */
export type TagDigest = { digest: string } | { unknown: string };
export type TagDigests = (repository: string, tag: string) => Promise<TagDigest>;

/** The lookup, for a caller that needs the digest: anything short of one is unknown, with why. A
 *  repository without a registry host is never asked (docker would go to Docker Hub). */
export function tagDigests(lookup: DigestLookup): TagDigests {
  return async (repository, tag) => {
    if (!hasRegistryHost(repository)) return { unknown: `${repository} names no registry berth can ask` };
    const answer = await lookup(`${repository}:${tag}`);
    if (answer.digest) return { digest: answer.digest };
    return { unknown: answer.absent ? `the registry has no ${repository}:${tag}` : answer.detail };
  };
}
