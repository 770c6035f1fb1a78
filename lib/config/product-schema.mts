// What a products/<name>.mts file may say, written once: the types below are inferred from
// this schema and validate.mts runs it, so the type and the run-time check cannot drift.
// Messages are berth's own (validate.mts puts the dotted path in front of each).
import * as v from 'valibot';

type Obj = Record<string, unknown>;
export const isObj = (value: unknown): value is Obj => typeof value === 'object' && value !== null && !Array.isArray(value);

const NAME = /^[a-z0-9][a-z0-9_-]*$/;
/** A git branch name berth can fetch by: no option-looking start, no `..`, no trailing `/` or `.lock`. */
const BRANCH = /^(?!-)(?!.*\.\.)(?!.*\/$)(?!.*\.lock$)[A-Za-z0-9._/-]+$/;
const KINDS = ['http', 'worker', 'stateful', 'proxy'] as const;

/** A required field that is there but undefined reads the same as one left out. */
const orRequired =
  (message: string) =>
  (issue: { input: unknown }): string =>
    issue.input === undefined ? 'required' : message;

// A schema rather than string + nonEmpty, so a failure stops the checks piped after it.
const isText = (value: unknown) => typeof value === 'string' && value !== '';
const text = v.custom<string>(isText, orRequired('expected a non-empty string'));
/** A list item is never "required": an undefined one is just not a string. */
const item = v.custom<string>(isText, 'expected a non-empty string');
const urlPath = v.pipe(v.string(orRequired('expected a string starting with /')), v.startsWith('/', 'expected a string starting with /'));
const flag = v.boolean('expected true or false');
const list = v.array(item, 'expected a list of strings');
const nonEmptyList = v.pipe(
  v.array(item, orRequired('expected a non-empty list of strings')),
  v.minLength(1, 'expected a non-empty list of strings'),
);
const stringMap = v.pipe(v.custom<Obj>(isObj, 'expected a map of strings'), v.record(v.string(), v.string('expected a string')));

/** One message for every way a number can be out of bounds, as an operator reads it. */
function bounded(min: number, max: number, integer: boolean) {
  const message = `expected ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`;
  // v.number already refuses NaN; the range refuses the infinities.
  const fits = (n: number) => n >= min && n <= max && (!integer || Number.isInteger(n));
  return v.pipe(v.number(message), v.check(fits, message));
}

/**
 * An object that refuses every field it does not name, all of them at once (valibot's
 * strictObject stops at the first). Typed as the plain object: the rest schema only refuses.
 */
function closed<const E extends v.ObjectEntries>(entries: E, notAnObject: string) {
  const unknown = v.never(`unknown field (expected one of ${Object.keys(entries).join(', ')})`);
  // A missing key is reported by the object; give it the message its own schema has for undefined.
  const missing = (issue: v.BaseIssue<unknown>) => {
    const key = String(issue.path?.[0]?.key);
    return v.safeParse(entries[key]!, undefined).issues?.[0].message ?? 'required';
  };
  const schema = v.pipe(v.custom<Obj>(isObj, notAnObject), v.objectWithRest(entries, unknown, missing));
  return schema as unknown as v.GenericSchema<v.InferInput<v.ObjectSchema<E, undefined>>, v.InferOutput<v.ObjectSchema<E, undefined>>>;
}

const kind = v.picklist(KINDS, (issue) =>
  issue.input === undefined ? `required (one of ${KINDS.join(', ')})` : `expected one of ${KINDS.join(', ')}`,
);

const health = v.pipe(
  closed(
    {
      /** HTTP path probed on the container itself, e.g. /api/devops/version. */
      path: v.optional(urlPath),
      /** Container port the path is served on. */
      port: v.optional(bounded(1, 65535, true)),
      /** Overrides the deadline derived from the Docker healthcheck. */
      timeoutSeconds: v.optional(bounded(1, 3600, true)),
    },
    'expected an object',
  ),
  v.rawCheck(({ dataset, addIssue }) => {
    const value = dataset.value;
    if (isObj(value) && value.path !== undefined && value.port === undefined) {
      addIssue({ message: 'required when health.path is set', path: [at(value, 'port')] });
    }
  }),
);

// A DNS name (lower case, optionally one leading `*.` label) or localhost, with an optional port:
// what Caddy takes as a site address without quoting, so nothing berth writes can break a file.
const HOST = /^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*(:\d{1,5})?$/;
// A path prefix: no spaces, braces, quotes or globs, which would end or change a Caddy matcher.
const PATH_PREFIX = /^\/[A-Za-z0-9._~!$&'()+,;=:@%/-]*$/;

const route = closed(
  {
    /** The host name the shared edge answers for, e.g. clock.example.com. */
    host: v.pipe(text, v.regex(HOST, 'expected a host name like app.example.com (lower case, no scheme, no path)')),
    /** Only requests under this path prefix, e.g. /api; default every path of the host. */
    path: v.optional(v.pipe(urlPath, v.regex(PATH_PREFIX, 'expected a path prefix like /api (no spaces, braces, quotes or *)'))),
  },
  'expected { host, path? }',
);

const build = closed(
  {
    /** Build context, relative to the product repo. */
    context: text,
    dockerfile: v.optional(text),
    target: v.optional(text),
    /** More paths (relative to the repo) whose changes mean this image changed. */
    paths: v.optional(list),
    args: v.optional(stringMap),
    /** BuildKit secret id -> name of the environment variable holding it. */
    secrets: v.optional(stringMap),
  },
  'expected an object',
);

const service = closed(
  {
    /** http: served through Caddy, replaced start-first. worker: no HTTP, start-first by default.
     *  stateful: databases and emulators, never replaced by a routine deploy. proxy: the Caddy front. */
    kind,
    /** Repository name in the registry; default `<product>-<service>`. */
    image: v.optional(text),
    health: v.optional(health),
    build: v.optional(build),
    /** Seconds the old container keeps serving after it left the upstreams. */
    drainSeconds: v.optional(bounded(0, 300, false)),
    /** Replace by stopping the old container first (fixed host port, container_name, singletons). */
    stopFirst: v.optional(flag),
    /** Where the shared edge proxy sends traffic to this (http) service: hosts and path prefixes. */
    routes: v.optional(v.pipe(v.array(route, 'expected a list of { host, path? }'), v.minLength(1, 'expected at least one route'))),
    /** Budget for the image's compressed size (its registry layers), in MB (10^6 bytes): build warns, the report flags. */
    maxImageMb: v.optional(bounded(1, 100_000, false)),
  },
  'expected an object',
);

/** Service names and the single proxy are checked on the whole map, so every service is still checked on its own. */
const services = v.pipe(
  v.custom<Obj>((value) => isObj(value) && Object.keys(value).length > 0, 'required: at least one service'),
  v.record(v.string(), service),
  v.rawCheck(({ dataset, addIssue }) => {
    const value = dataset.value as Obj;
    for (const name of Object.keys(value)) {
      if (!NAME.test(name)) addIssue({ message: 'service names are lower-case letters, digits, - and _', path: [at(value, name)] });
    }
    const proxies = Object.entries(value).filter(([, def]) => isObj(def) && def.kind === 'proxy');
    if (proxies.length > 1) addIssue({ message: `at most one proxy service (found ${proxies.map(([name]) => name).join(', ')})` });
    const claimed = new Map<string, string>();
    for (const [name, def] of Object.entries(value)) {
      if (!isObj(def) || !Array.isArray(def.routes)) continue;
      if (def.kind !== 'http') addIssue({ message: 'routes are for http services only', path: [at(value, name), at(def, 'routes')] });
      else if (!isObj(def.health) || def.health.port === undefined) {
        addIssue({
          message: 'a routed service needs health.port: the port the edge proxy dials',
          path: [at(value, name), at(def, 'routes')],
        });
      }
      for (const r of def.routes) {
        if (!isObj(r)) continue;
        const key = `${String(r.host)}${String(r.path ?? '')}`;
        const other = claimed.get(key);
        if (other) addIssue({ message: `${key} is routed to both ${other} and ${name}`, path: [at(value, name), at(def, 'routes')] });
        claimed.set(key, name);
      }
    }
  }),
);

const smokeCheck = closed(
  {
    /** Path requested through the proxy, e.g. /api/devops/version. */
    path: urlPath,
    /** Host header, when the proxy routes by host. */
    host: v.optional(text),
    status: v.optional(bounded(100, 599, true)),
    /** Text the body must contain; `{tag}` stands for the release being deployed. */
    contains: v.optional(text),
  },
  'expected an object',
);

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A named command at a fixed point of the deploy (lib/deploy/hooks.mts): argv, never a shell line. */
const hook = closed(
  {
    name: v.pipe(text, v.regex(NAME, 'lower-case letters, digits, - and _ only')),
    /** argv: the program and its arguments, no shell. */
    command: nonEmptyList,
    /** Stopped after this long (and its one-off container removed); default 300. */
    timeoutSeconds: v.optional(bounded(1, 3600, true)),
    /** 'host' (default): on the VM in the product's checkout; a service name: a one-off container from that service's release image. */
    in: v.optional(text),
    /** Names of variables in berth's environment (or .env) handed to the command; their values are redacted everywhere. */
    secrets: v.optional(v.array(v.pipe(item, v.regex(ENV_NAME, 'expected an environment variable name')), 'expected a list of names')),
  },
  'expected { name, command, timeoutSeconds?, in?, secrets? }',
);
const hooks = v.array(hook, 'expected a list of { name, command, timeoutSeconds?, in?, secrets? }');
export const HOOK_POINTS = ['beforeBuild', 'checks', 'beforeSwitch', 'afterDeploy', 'afterRollback', 'afterFailure'] as const;

// migrate has never refused unknown fields; it stays an open object.
const migrate = v.pipe(
  v.custom<Obj>(isObj, 'expected { service, command }'),
  v.object({ service: text, command: nonEmptyList }, 'required'),
);

export const productSchema = v.pipe(
  closed(
    {
      name: v.pipe(text, v.regex(NAME, 'lower-case letters, digits, - and _ only')),
      /** The product's repo: relative to the workspace root (BERTH_WORKSPACE) or absolute. */
      repo: text,
      /** The branch whose tip on the repo's remote a deploy without --tag deploys; default main. */
      branch: v.optional(v.pipe(text, v.regex(BRANCH, 'a branch name: letters, digits, and . _ / - (no .., no leading -)'))),
      /** The production view, relative to the repo: images only, never `build:`. */
      composeFiles: nonEmptyList,
      /** The development view used by the builder (adds `build:`). */
      buildComposeFiles: v.optional(list),
      /** Compose project name on the VM; default the product name. */
      projectName: v.optional(text),
      /** Registry host[:port][/namespace]; default BERTH_REGISTRY from the environment. */
      registry: v.optional(text),
      /** What runs this product: Compose on the VM's engine, or the swarm it manages; default BERTH_ENGINE. */
      engine: v.optional(v.picklist(['compose', 'swarm'], "expected 'compose' or 'swarm'")),
      services,
      smoke: v.optional(v.array(smokeCheck, 'expected a list of checks')),
      /** One-off command run from the new image before the switch (e.g. database migrations). */
      migrate: v.optional(migrate),
      /** Releases whose images hygiene never removes; default 5. */
      keepReleases: v.optional(bounded(1, 100, true)),
      /** Preflight refuses to deploy with less free disk than this; default 2. */
      minFreeDiskGb: v.optional(bounded(0, 10_000, false)),
      /** false keeps the product out of deploy-all (the example product). Default true. */
      deployAll: v.optional(flag),
      /** Seconds the smoke checks keep running after the switch before the release is accepted; default 3. */
      monitorSeconds: v.optional(bounded(0, 600, false)),
      /** On the builder, before any image of the release is built: a non-zero exit stops the build. */
      beforeBuild: v.optional(hooks),
      /** Before anything changes: a non-zero exit refuses the deploy. */
      checks: v.optional(hooks),
      /** New containers healthy, traffic not moved yet: a non-zero exit fails the deploy and undoes it. */
      beforeSwitch: v.optional(hooks),
      /** After a deploy (or a rollback, or a failed deploy's undo) ended: a non-zero exit is a warning. */
      afterDeploy: v.optional(hooks),
      afterRollback: v.optional(hooks),
      afterFailure: v.optional(hooks),
    },
    'the default export must be defineProduct({...})',
  ),
  v.rawCheck(({ dataset, addIssue }) => {
    const value = dataset.value;
    if (!isObj(value)) return;
    const known = isObj(value.services) ? value.services : {};
    const service = isObj(value.migrate) ? value.migrate.service : undefined;
    if (typeof service === 'string' && service !== '' && !(service in known)) {
      const message = `unknown service '${service}' (services: ${Object.keys(known).join(', ')})`;
      addIssue({ message, path: [at(value, 'migrate'), at(value.migrate as Obj, 'service')] });
    }
    for (const point of HOOK_POINTS) {
      const list = value[point];
      if (!Array.isArray(list)) continue;
      const seen = new Set<unknown>();
      list.forEach((entry, index) => {
        if (!isObj(entry)) return;
        const path = (key: string): [v.IssuePathItem, ...v.IssuePathItem[]] => [
          at(value, point),
          { type: 'array', origin: 'value', input: list, key: index, value: entry },
          at(entry, key),
        ];
        if (point === 'beforeBuild' && typeof entry.in === 'string' && entry.in !== 'host') {
          addIssue({ message: "expected 'host': beforeBuild runs on the builder, before the release's images exist", path: path('in') });
        } else if (typeof entry.in === 'string' && entry.in !== '' && entry.in !== 'host' && !(entry.in in known)) {
          addIssue({ message: `expected 'host' or a service (${Object.keys(known).join(', ')})`, path: path('in') });
        }
        if (seen.has(entry.name)) addIssue({ message: `another ${point} entry is named '${String(entry.name)}'`, path: path('name') });
        seen.add(entry.name);
      });
    }
  }),
);

/** A path item for an issue a cross-field check raises on `key` of `input`. */
function at(input: Obj, key: string): v.ObjectPathItem {
  return { type: 'object', origin: 'value', input, key, value: input[key] };
}

/** The one shared Caddy in front of every product on a VM: `<products dir>/edge.mts`. */
export const edgeSchema = closed(
  {
    /** Compose project of the edge Caddy container (common_plat, or a project of its own). */
    project: v.pipe(text, v.regex(NAME, 'lower-case letters, digits, - and _ only')),
    /** Its compose service. */
    service: v.pipe(text, v.regex(NAME, 'lower-case letters, digits, - and _ only')),
    /** The docker network it shares with every routed service (an external network in their compose files). */
    network: text,
    /** Host directory berth writes one `<product>.caddy` into; default `$BERTH_STATE_DIR/edge`. */
    sitesDir: v.optional(text),
    /** Where the Caddy container mounts that directory; its Caddyfile has `import <mountedAt>/*.caddy`. */
    mountedAt: v.pipe(text, v.startsWith('/', 'expected an absolute path in the container')),
    /** The Caddyfile inside the container; default /etc/caddy/Caddyfile. */
    config: v.optional(v.pipe(text, v.startsWith('/', 'expected an absolute path in the container'))),
    /** https (default): Caddy gets certificates for each host. http: plain HTTP sites (behind a TLS terminator, or tests). */
    scheme: v.optional(v.picklist(['https', 'http'], 'expected https or http')),
  },
  'the default export must be defineEdge({...})',
);

export type ServiceKind = (typeof KINDS)[number];
export type RouteDef = v.InferOutput<typeof route>;
export type EdgeDef = v.InferOutput<typeof edgeSchema>;
export type HealthConfig = v.InferOutput<typeof health>;
export type BuildConfig = v.InferOutput<typeof build>;
export type ServiceDef = v.InferOutput<typeof service>;
export type SmokeCheck = v.InferOutput<typeof smokeCheck>;
export type HookDef = v.InferOutput<typeof hook>;
export type HookPoint = (typeof HOOK_POINTS)[number];
export type ProductDef = v.InferOutput<typeof productSchema>;
