// Products are data. These types are what a products/<name>.mts file may say; validate.mts
// checks the same shape at run time, because a product file is written by hand.

/** http: served through Caddy, replaced start-first. worker: no HTTP, start-first by default.
 *  stateful: databases and emulators, never replaced by a routine deploy. proxy: the Caddy front. */
export type ServiceKind = 'http' | 'worker' | 'stateful' | 'proxy';

export interface HealthConfig {
  /** HTTP path probed on the container itself, e.g. /api/devops/version. */
  path?: string;
  /** Container port the path is served on. */
  port?: number;
  /** Overrides the deadline derived from the Docker healthcheck. */
  timeoutSeconds?: number;
}

export interface BuildConfig {
  /** Build context, relative to the product repo. */
  context: string;
  dockerfile?: string;
  target?: string;
  /** More paths (relative to the repo) whose changes mean this image changed. */
  paths?: string[];
  args?: Record<string, string>;
  /** BuildKit secret id -> name of the environment variable holding it. */
  secrets?: Record<string, string>;
}

export interface ServiceDef {
  kind: ServiceKind;
  /** Repository name in the registry; default `<product>-<service>`. */
  image?: string;
  health?: HealthConfig;
  build?: BuildConfig;
  /** Seconds the old container keeps serving after it left the upstreams. */
  drainSeconds?: number;
  /** Replace by stopping the old container first (fixed host port, container_name, singletons). */
  stopFirst?: boolean;
}

export interface SmokeCheck {
  /** Path requested through the proxy, e.g. /api/devops/version. */
  path: string;
  /** Host header, when the proxy routes by host. */
  host?: string;
  status?: number;
  /** Text the body must contain; `{tag}` stands for the release being deployed. */
  contains?: string;
}

export interface ProductDef {
  name: string;
  /** The product's repo: relative to the workspace root (BERTH_WORKSPACE) or absolute. */
  repo: string;
  /** The production view, relative to the repo: images only, never `build:`. */
  composeFiles: string[];
  /** The development view used by the builder (adds `build:`). */
  buildComposeFiles?: string[];
  /** Compose project name on the VM; default the product name. */
  projectName?: string;
  /** Registry host[:port][/namespace]; default BERTH_REGISTRY from the environment. */
  registry?: string;
  services: Record<string, ServiceDef>;
  smoke?: SmokeCheck[];
  /** Seconds the smoke checks keep running after the switch before the release is accepted; default 3. */
  monitorSeconds?: number;
  /** One-off command run from the new image before the switch (e.g. database migrations). */
  migrate?: { service: string; command: string[] };
  /** Releases whose images hygiene never removes; default 5. */
  keepReleases?: number;
  /** false keeps the product out of deploy-all (the example product). Default true. */
  deployAll?: boolean;
  /** Preflight refuses to deploy with less free disk than this; default 2. */
  minFreeDiskGb?: number;
}
