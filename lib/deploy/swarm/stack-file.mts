// The product's production view (what `compose config` printed) as a stack file for
// `docker stack deploy`. Pure: the caller passes the digests and what it knows of each image. Keys
// Swarm cannot honour are refused with their fix, all at once; keys that mean nothing to a swarm
// (restart, depends_on) are dropped, because Swarm has its own answer for each.
import { withAlias } from './door.mts';
import type { Product } from '../../config/load.mts';

type Service = Record<string, unknown>;

export interface ComposeConfig {
  services?: Record<string, Service>;
  networks?: Record<string, Record<string, unknown> | null>;
  volumes?: Record<string, unknown>;
  secrets?: Record<string, unknown>;
  configs?: Record<string, unknown>;
  [key: string]: unknown;
}

/** Keys `docker stack deploy` cannot honour, each with what to do instead. */
const REFUSED: Record<string, string> = {
  build: 'move build: to a development override; a swarm only pulls',
  container_name: 'remove it; Swarm names each task itself',
  network_mode: 'attach the service to a network under networks: instead',
  links: 'remove it; services reach each other by name on a shared network',
  external_links: 'remove it; put both services on a shared (external) network',
  volumes_from: 'mount the same named volume in both services instead',
  privileged: 'remove it, or grant the capabilities it needs with cap_add',
  devices: 'remove it; Swarm services cannot map devices',
  cgroup_parent: 'remove it',
  userns_mode: 'remove it',
  ipc: 'remove it',
  pid: 'remove it',
  cpuset: 'use deploy.resources instead',
  mem_limit: 'use deploy.resources.limits.memory instead',
  cpus: 'use deploy.resources.limits.cpus instead',
  scale: 'use deploy.replicas instead',
};

/** Compose-only keys Swarm replaces with its own: dropped from the stack file. */
const DROPPED = new Set(['restart', 'depends_on', 'pull_policy', 'profiles', 'platform']);

/** Keys of a stack file service (compose file format 3.9) berth passes through as they are. */
const KNOWN = new Set([
  'image',
  'command',
  'entrypoint',
  'environment',
  'env_file',
  'labels',
  'networks',
  'ports',
  'volumes',
  'secrets',
  'configs',
  'healthcheck',
  'deploy',
  'logging',
  'user',
  'working_dir',
  'hostname',
  'domainname',
  'stop_grace_period',
  'stop_signal',
  'sysctls',
  'ulimits',
  'cap_add',
  'cap_drop',
  'extra_hosts',
  'dns',
  'dns_search',
  'init',
  'read_only',
  'tmpfs',
  'tty',
  'stdin_open',
  'isolation',
  'expose',
  'credential_spec',
  'shm_size',
  'mac_address',
]);

/** Every service key Swarm cannot take, in one list: `services.<name>.<key>: <fix>`. */
export function swarmViewErrors(services: Record<string, Service>): string[] {
  const errors: string[] = [];
  for (const [name, service] of Object.entries(services)) {
    for (const key of Object.keys(service)) {
      if (key === 'build') continue; // the compose view check names the file that has it
      const fix = REFUSED[key];
      if (fix) errors.push(`services.${name}.${key} is not supported by Docker Swarm: ${fix}`);
      else if (!KNOWN.has(key) && !DROPPED.has(key) && !key.startsWith('x-'))
        errors.push(`services.${name}.${key} is not supported by docker stack deploy: remove it or move it to a development override`);
    }
    for (const port of (service.ports as unknown[] | undefined) ?? []) {
      const published = publishedThroughIngress(port);
      if (published)
        errors.push(
          `services.${name}.ports ${published} would publish through Swarm's ingress routing mesh, which needs IPVS and drops connections while tasks change: use the long syntax with mode: host, expose: for other services, or route through the front proxy`,
        );
    }
  }
  return errors;
}

/** A port that would be published through the ingress mesh, as text; undefined for host mode.
 *  Every entry of ports: publishes (a bare "8080" on a random host port): only expose: does not. */
function publishedThroughIngress(port: unknown): string | undefined {
  if (typeof port === 'string' || typeof port === 'number') return String(port);
  if (port && typeof port === 'object') {
    const p = port as { mode?: string; published?: unknown; target?: unknown; host_ip?: unknown };
    if (p.mode === 'host') return undefined;
    return [p.host_ip, p.published ?? '', p.target].filter((part) => part !== undefined).join(':');
  }
  return undefined;
}

/** What a product asks of a deploy that berth does not do on a swarm yet. A beforeSwitch hook is a
 *  gate: skipping it would be worse than refusing. Smoke checks go through the front door, the
 *  product's proxy service: without one they could not run. */
export function swarmProductGaps(def: { beforeSwitch?: unknown[]; smoke?: unknown[]; services?: Record<string, { kind?: string }> }): {
  errors: string[];
  warnings: string[];
} {
  const errors: string[] = [];
  const warnings: string[] = [];
  if (def.beforeSwitch?.length)
    errors.push('beforeSwitch: berth does not run beforeSwitch hooks on a swarm yet: drop them, or deploy with BERTH_ENGINE=compose');
  if (def.smoke?.length && !Object.values(def.services ?? {}).some((service) => service.kind === 'proxy'))
    errors.push(
      "smoke: on a swarm berth runs the smoke checks through the product's proxy service, and it has none: add one (kind: 'proxy', its port published with mode: host) or drop smoke",
    );
  return { errors, warnings };
}

export interface StackInputs {
  product: Pick<Product, 'services' | 'projectName'>;
  config: ComposeConfig;
  /** Service -> pinned image (repo:tag@sha256:...), for every service berth pins. */
  images: Record<string, string>;
  /** Services whose image carries a HEALTHCHECK of its own; undefined: not known (dry run, not pulled). */
  imageHealthchecks?: Set<string>;
  /** Seconds Swarm watches a new task before it counts the update good. */
  monitorSeconds: number;
  /** Service -> the alias its release's tasks answer to on each of its networks (door.mts). */
  aliases?: Record<string, string>;
  /** The swarm's nodes that can take tasks (ready, active); undefined: not known. */
  nodes?: number;
}

export interface RenderedStack {
  stack: ComposeConfig;
  errors: string[];
  /** Things worth saying that refuse nothing. */
  notes: string[];
}

const hasOwnHealthcheck = (service: Service) => {
  const check = service.healthcheck as { disable?: boolean; test?: unknown } | undefined;
  if (!check || check.disable) return false;
  const test = check.test;
  return !(Array.isArray(test) && test[0] === 'NONE');
};

/** Swarm's update policy, with berth's choice for every key the product left out. */
function updatePolicy(given: unknown, defaults: Record<string, unknown>): Record<string, unknown> {
  return { ...defaults, ...((given as Record<string, unknown> | undefined) ?? {}) };
}

/** Strips what `compose config` v2 prints that the stack file format does not accept. */
function stackVolume(volume: unknown): unknown {
  if (!volume || typeof volume !== 'object') return volume;
  const { bind, ...rest } = volume as { bind?: Record<string, unknown> };
  if (!bind) return rest;
  const { create_host_path: _create, ...keep } = bind;
  return Object.keys(keep).length > 0 ? { ...rest, bind: keep } : rest;
}

function stackPort(port: unknown): unknown {
  if (!port || typeof port !== 'object') return port;
  const { host_ip: _hostIp, app_protocol: _app, name: _name, ...rest } = port as Record<string, unknown>;
  if (typeof rest.published === 'string' && /^\d+$/.test(rest.published)) rest.published = Number(rest.published);
  return rest;
}

/**
 * Why a start-first update of this service could never finish, or undefined when it can: during
 * the update Swarm runs one task more than the replicas, and `placement.max_replicas_per_node`
 * times the nodes may leave no node for it. Measured on a 2-node swarm with 2 replicas and a limit
 * of 1: the new task stayed pending, berth followed the update until its 10-minute limit, and old
 * and new both answered all along. Constraints can only leave fewer nodes, so this refuses no
 * service that could update.
 */
export function startFirstWithoutRoom(deploy: Record<string, unknown>, nodes: number): string | undefined {
  const limit = Number((deploy.placement as { max_replicas_per_node?: unknown } | undefined)?.max_replicas_per_node ?? 0);
  const update = deploy.update_config as { order?: string; parallelism?: number } | undefined;
  if (!limit || update?.order !== 'start-first' || deploy.mode === 'global') return undefined;
  const replicas = Number(deploy.replicas ?? 1);
  const extra = Math.max(1, Number(update.parallelism ?? 1) || replicas);
  if (limit * nodes >= replicas + Math.min(extra, replicas)) return undefined;
  return `placement.max_replicas_per_node ${limit} on ${nodes} node${nodes === 1 ? '' : 's'} leaves no room for the task a start-first update adds to its ${replicas} replica${replicas === 1 ? '' : 's'}, and the update would wait forever; raise max_replicas_per_node to ${Math.ceil((replicas + Math.min(extra, replicas)) / nodes)}, add a node, or set deploy.update_config.order: stop-first`;
}

export function renderStack(inputs: StackInputs): RenderedStack {
  const { product, config, images, monitorSeconds } = inputs;
  const errors = swarmViewErrors(config.services ?? {});
  const notes: string[] = [];
  const services: Record<string, Service> = {};
  const monitor = `${monitorSeconds}s`;
  for (const [name, view] of Object.entries(config.services ?? {})) {
    const kind = product.services[name]?.kind;
    const service: Service = {};
    for (const [key, value] of Object.entries(view)) {
      if (DROPPED.has(key)) continue;
      if (REFUSED[key] || !(KNOWN.has(key) || key.startsWith('x-'))) continue;
      service[key] = value;
    }
    const pinned = images[name];
    if (pinned) service.image = pinned;
    else if ((kind === 'http' || kind === 'worker') && !String(view.image ?? '').includes('@sha256:'))
      errors.push(`services.${name}: no digest for ${String(view.image ?? '(no image)')}; push the release's image first`);
    const alias = inputs.aliases?.[name];
    if (alias) service.networks = withAlias(service.networks, alias);
    if (Array.isArray(service.volumes)) service.volumes = service.volumes.map(stackVolume);
    if (Array.isArray(service.ports)) service.ports = service.ports.map(stackPort);
    if (kind === 'http' && !hasOwnHealthcheck(view)) {
      if (inputs.imageHealthchecks === undefined) notes.push(`services.${name}: its image's healthcheck is checked once it is pulled`);
      else if (!inputs.imageHealthchecks.has(name))
        errors.push(
          `services.${name} has no healthcheck: Swarm would send traffic to a task before it answers and could not roll a bad one back; add healthcheck: to the compose file or HEALTHCHECK to the image`,
        );
    }
    const deploy = { ...((view.deploy as Record<string, unknown> | undefined) ?? {}) };
    // A stateful service cannot run twice (one volume, one writer): its tasks are replaced stop-first.
    const order = kind === 'stateful' ? 'stop-first' : 'start-first';
    deploy.update_config = updatePolicy(deploy.update_config, {
      parallelism: 1,
      order,
      failure_action: 'rollback',
      monitor,
      max_failure_ratio: 0,
    });
    deploy.rollback_config = updatePolicy(deploy.rollback_config, { parallelism: 1, order, failure_action: 'pause', monitor });
    // This kernel has no IPVS (see README, Swarm): a VIP never answers, DNS round robin does.
    if (deploy.endpoint_mode === undefined) deploy.endpoint_mode = 'dnsrr';
    const noRoom = inputs.nodes === undefined ? undefined : startFirstWithoutRoom(deploy, inputs.nodes);
    if (noRoom) errors.push(`services.${name}: ${noRoom}`);
    service.deploy = deploy;
    services[name] = service;
  }
  const networks: Record<string, Record<string, unknown>> = {};
  for (const [name, network] of Object.entries(config.networks ?? {})) {
    const net = { ...(network ?? {}) };
    if (net.external) {
      networks[name] = net;
      continue;
    }
    // Overlay, attachable: a front proxy run as a plain container (or a one-off task) can join it.
    net.driver ??= 'overlay';
    if (net.driver === 'overlay') net.attachable ??= true;
    networks[name] = net;
  }
  // Compose v1's config leaves the default network out; the stack needs it attachable all the same.
  const usesDefault = Object.values(config.services ?? {}).some((service) => {
    const nets = service.networks;
    if (nets === undefined || service.network_mode !== undefined) return nets === undefined && service.network_mode === undefined;
    return Array.isArray(nets) ? nets.includes('default') : 'default' in (nets as object);
  });
  if (usesDefault && !networks.default) networks.default = { driver: 'overlay', attachable: true };
  const stack: ComposeConfig = { version: '3.9', services };
  if (Object.keys(networks).length > 0) stack.networks = networks;
  for (const key of ['volumes', 'secrets', 'configs'] as const) {
    const value = config[key];
    if (value && Object.keys(value).length > 0) stack[key] = value;
  }
  return { stack, errors, notes };
}

/** The stack for a reader: every environment value hidden. Compose resolved them from the
 *  environment and .env files, where secrets live; the names say enough. */
export function withoutEnvironmentValues(stack: ComposeConfig): ComposeConfig {
  const services: Record<string, Service> = {};
  for (const [name, service] of Object.entries(stack.services ?? {})) {
    const env = service.environment;
    let hidden: unknown = env;
    if (Array.isArray(env)) hidden = env.map((entry) => String(entry).replace(/=.*$/s, '=(hidden)'));
    else if (env && typeof env === 'object') hidden = Object.fromEntries(Object.keys(env).map((key) => [key, '(hidden)']));
    services[name] = env === undefined ? service : { ...service, environment: hidden };
  }
  return { ...stack, services };
}
