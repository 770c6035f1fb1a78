// Registry credentials and the registry's HTTP API. Credentials come from the environment (or the
// .env file loadSettings reads into it): BERTH_REGISTRY_USER and BERTH_REGISTRY_TOKEN. The token
// reaches `docker login` on stdin and the registry in a request header: never an argument, never
// printed, never stored by berth (docker keeps it in its own config.json, as `docker login` does).
import { dockerLogin } from '../commands/docker.mts';
import { ConfigError, EngineError, errorMessage } from '../core/errors.mts';
import type { Runner } from '../core/runner.mts';
import { readSetting } from '../core/settings.mts';

export interface RegistryCredentials {
  username: string;
  token: string;
}

/** Both variables or neither: one without the other is a typo, not an anonymous registry. */
export function registryCredentials(env: NodeJS.ProcessEnv = process.env): RegistryCredentials | undefined {
  const username = readSetting(env, 'registryUser');
  const token = readSetting(env, 'registryToken');
  if (!username && !token) return undefined;
  if (!username || !token) {
    const [set, missing] = username ? ['BERTH_REGISTRY_USER', 'BERTH_REGISTRY_TOKEN'] : ['BERTH_REGISTRY_TOKEN', 'BERTH_REGISTRY_USER'];
    throw new ConfigError(`${set} is set but ${missing} is not`, {
      fix: `set ${missing} too (in the environment or .env), or neither for an open registry`,
    });
  }
  return { username, token };
}

/** host[:port] of a registry setting that may carry a namespace (registry.example.com/team). */
export function registryHost(registry: string): string {
  return registry.split('/')[0] ?? registry;
}

/** The API root; loopback registries speak plain HTTP (Docker's default insecure range), others HTTPS. */
export function registryApiBase(registry: string): string {
  const host = registryHost(registry);
  const local = /^(127\.|localhost(:|$)|\[::1\])/.test(host);
  return `${local ? 'http' : 'https'}://${host}/v2/`;
}

/** Why the registry's API root cannot be reached, or undefined: a 401 is a registry asking for
 *  credentials, so reachable. Nothing is authenticated here; deploy preflight asks this first. */
export async function registryUnreachable(registry: string, timeoutMs = 5_000): Promise<string | undefined> {
  try {
    const response = await fetch(registryApiBase(registry), { signal: AbortSignal.timeout(timeoutMs) });
    if (response.status === 200 || response.status === 401) return undefined;
    return `answered HTTP ${response.status}`;
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    return cause ?? errorMessage(error);
  }
}

/** `docker login` with the token on stdin. The runner also learns the token, so it is redacted anywhere. */
export async function loginRegistry(runner: Runner, registry: string, credentials: RegistryCredentials): Promise<void> {
  runner.addSecret(credentials.token);
  await runner.run(dockerLogin(registryHost(registry), credentials.username), { input: credentials.token, timeoutMs: 60_000 });
}

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** `Bearer realm="https://x/token",service="reg",scope="repository:a:pull"` -> scheme and params. */
export function parseChallenge(header: string): Challenge | undefined {
  const match = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!match?.[1]) return undefined;
  const params: Record<string, string> = {};
  for (const pair of (match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) params[(pair[1] ?? '').toLowerCase()] = pair[2] ?? '';
  return { scheme: match[1].toLowerCase(), params };
}

export interface RegistryRequest {
  method?: 'GET' | 'HEAD' | 'PUT';
  headers?: Record<string, string>;
  body?: Uint8Array | string;
}

export interface RegistryClient {
  readonly registry: string;
  /** `path` is relative to /v2/, e.g. `team/app/manifests/abc`. Answers 401 only when the credentials are refused. */
  request(path: string, request?: RegistryRequest): Promise<Response>;
}

/**
 * Speaks the registry API with whatever auth the registry asks for: none, Basic, or Bearer tokens
 * from the registry's token realm (Docker Hub, GHCR, Gitea, distribution with token auth).
 */
export function createRegistryClient(
  registry: string,
  credentials?: RegistryCredentials,
  options: { timeoutMs?: number } = {},
): RegistryClient {
  const base = registryApiBase(registry);
  const timeoutMs = options.timeoutMs ?? 15_000;
  const basic = credentials ? `Basic ${Buffer.from(`${credentials.username}:${credentials.token}`).toString('base64')}` : undefined;
  // Tokens are per scope (repository and actions); a push scope token also allows pull.
  const tokens = new Map<string, string>();

  async function send(url: string, request: RegistryRequest, authorization: string | undefined): Promise<Response> {
    try {
      return await fetch(url, {
        method: request.method ?? 'GET',
        headers: { ...request.headers, ...(authorization ? { authorization } : {}) },
        body: request.body,
        redirect: 'follow',
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      const inner = (error as { cause?: { code?: string; message?: string } }).cause;
      const cause = inner?.code ?? inner?.message ?? errorMessage(error);
      throw new EngineError(`registry ${registry} is not reachable (${cause})`, {
        fix: 'check the registry address (BERTH_REGISTRY) and the network',
        cause: error,
      });
    }
  }

  async function fetchToken(challenge: Challenge, fallbackScope: string): Promise<string | undefined> {
    const realm = challenge.params.realm;
    if (!realm) return undefined;
    const url = new URL(realm);
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    url.searchParams.set('scope', challenge.params.scope || fallbackScope);
    const response = await send(url.href, {}, basic);
    if (!response.ok) {
      await response.body?.cancel();
      return undefined;
    }
    const body = (await response.json()) as { token?: string; access_token?: string };
    return body.token ?? body.access_token;
  }

  return {
    registry,
    async request(path, request = {}) {
      const url = `${base}${path}`;
      const repository = /^(.+)\/(manifests|blobs|tags)\//.exec(path)?.[1] ?? '';
      const scope = `repository:${repository}:${request.method === 'PUT' ? 'pull,push' : 'pull'}`;
      const cached = tokens.get(scope);
      let response = await send(url, request, cached ? `Bearer ${cached}` : undefined);
      if (response.status !== 401) return response;
      const challenge = parseChallenge(response.headers.get('www-authenticate') ?? '');
      await response.body?.cancel();
      if (challenge?.scheme === 'basic' && basic) {
        response = await send(url, request, basic);
      } else if (challenge?.scheme === 'bearer') {
        const token = await fetchToken(challenge, scope);
        if (!token) return response;
        tokens.set(scope, token);
        response = await send(url, request, `Bearer ${token}`);
      }
      return response;
    },
  };
}

/** A 401 after the client tried the credentials it has: one line that says which variables to set. */
export function unauthorized(registry: string, credentials: RegistryCredentials | undefined): EngineError {
  return new EngineError(
    `registry ${registry} refused ${credentials ? `the credentials of ${credentials.username}` : 'anonymous access'}`,
    {
      fix: credentials
        ? 'check BERTH_REGISTRY_USER and BERTH_REGISTRY_TOKEN'
        : 'set BERTH_REGISTRY_USER and BERTH_REGISTRY_TOKEN (environment or .env)',
    },
  );
}

/** Logs in when BERTH_REGISTRY_USER/BERTH_REGISTRY_TOKEN are set; says whether it did. */
export async function loginIfConfigured(runner: Runner, registry: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  const credentials = registryCredentials(env);
  if (!credentials) return false;
  await loginRegistry(runner, registry, credentials);
  return true;
}
