// Pure argv for starting one more replica of a service without Compose: `docker run` (or create,
// network connect, start) from the service as `compose config` resolved it, with the labels that
// make Compose v1 and v2 count the container as one of the service's own.
//
// Why: Compose v1 is a Python program that spends 1.5-2 s (more on a busy VM) on an
// `up --scale web=2 --no-recreate`; `docker run` starts the same container in a few hundred ms,
// which is most of the gap between berth's switch and the pull+healthy floor.
//
// Only keys whose meaning is plain are translated. Any other key makes `replicaPlan` return the
// reasons, and the caller lets Compose start that service as before: slower, never different.
import { createHash } from 'node:crypto';
import type { ComposeFlavourName } from '../commands/compose.mts';

export type ComposeServiceConfig = Record<string, unknown>;

export interface ComposeTopLevel {
  networks?: Record<string, { name?: string; external?: boolean | { name?: string } } | null>;
  volumes?: Record<string, { name?: string; external?: boolean | { name?: string } } | null>;
}

export interface ReplicaInput {
  flavour: { name: ComposeFlavourName; version: string };
  project: string;
  service: string;
  config: ComposeServiceConfig;
  top: ComposeTopLevel;
  /** The com.docker.compose.container-number of the new container. */
  number: number;
  /** Where the caller writes `envFileText` before running the commands (values stay off argv). */
  envFile: string;
  /** Project labels Compose put on the running replica (working_dir, config_files, ...). */
  projectLabels: Record<string, string>;
}

export interface ReplicaPlan {
  name: string;
  /** Real network names, in the order they are attached. */
  networks: string[];
  /** Real names of the named volumes mounted. */
  volumes: string[];
  envFileText: string;
  commands: string[][];
}

export type ReplicaResult = { ok: true; plan: ReplicaPlan } | { ok: false; unsupported: string[] };

/** Keys that change nothing about one container started beside the others. */
const IGNORED = new Set(['depends_on', 'profiles', 'pull_policy', 'scale', 'build']);
/** Compose keys that are one docker flag each, in the order they are passed; `?` marks a switch. */
const SIMPLE_FLAGS: [string, string][] = [
  ['working_dir', '--workdir'],
  ['user', '--user'],
  ['hostname', '--hostname'],
  ['domainname', '--domainname'],
  ['restart', '--restart'],
  ['init', '--init?'],
  ['read_only', '--read-only?'],
  ['privileged', '--privileged?'],
  ['tty', '--tty?'],
  ['stdin_open', '--interactive?'],
  ['shm_size', '--shm-size'],
  ['stop_signal', '--stop-signal'],
];
const HANDLED = new Set([
  ...SIMPLE_FLAGS.map(([key]) => key),
  'image', 'environment', 'labels', 'command', 'entrypoint', 'stop_grace_period', 'mem_limit', 'mem_reservation', 'memswap_limit',
  'cpus', 'cpu_shares', 'pids_limit', 'cap_add', 'cap_drop', 'security_opt', 'extra_hosts', 'dns', 'dns_search', 'expose', 'ports',
  'volumes', 'tmpfs', 'networks', 'healthcheck', 'logging', 'deploy', 'ulimits', 'sysctls', 'devices', 'group_add',
]);
const DEPLOY_IGNORED = new Set(['replicas', 'restart_policy', 'update_config', 'rollback_config', 'placement', 'labels', 'mode', 'endpoint_mode']);

export const COMPOSE_LABELS = {
  project: 'com.docker.compose.project',
  service: 'com.docker.compose.service',
  oneoff: 'com.docker.compose.oneoff',
  number: 'com.docker.compose.container-number',
  version: 'com.docker.compose.version',
  configHash: 'com.docker.compose.config-hash',
} as const;

/** Labels of the project, not of one container: copied from the replica Compose started. */
const PROJECT_LABEL_PREFIX = 'com.docker.compose.project.';

export function replicaName(flavour: ComposeFlavourName, project: string, service: string, number: number): string {
  return flavour === 'v1' ? `${project}_${service}_${number}` : `${project}-${service}-${number}`;
}

function realName(kind: 'network' | 'volume', key: string, project: string, top: ComposeTopLevel): string {
  const def = (kind === 'network' ? top.networks : top.volumes)?.[key] ?? undefined;
  if (def?.name) return def.name;
  if (def?.external) return typeof def.external === 'object' && def.external.name ? def.external.name : key;
  return `${project}_${key}`;
}

const asList = (value: unknown): unknown[] => (value === undefined || value === null ? [] : Array.isArray(value) ? value : [value]);
const str = (value: unknown): string => String(value);

/** Key/value pairs from a Compose map or a list of `k=v` strings. */
function pairs(value: unknown): [string, string | null][] {
  if (Array.isArray(value)) {
    return value.map((item) => {
      const text = str(item);
      const at = text.indexOf('=');
      return at < 0 ? [text, null] : [text.slice(0, at), text.slice(at + 1)];
    });
  }
  if (value && typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, v === null || v === undefined ? null : str(v)]);
  }
  return [];
}

/** POSIX-shell word splitting as Compose does for a string command (Python's shlex.split). */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\')) word += text[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < text.length) {
      word += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unbalanced ${quote} in '${text}'`);
  if (inWord) words.push(word);
  return words;
}

/** Compose durations ("1m30s", "500ms", 10) in whole seconds, rounded up. */
export function durationSeconds(value: unknown): number | undefined {
  if (typeof value === 'number') return Math.ceil(value);
  const text = str(value).trim();
  const units: Record<string, number> = { us: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
  let total = 0;
  let rest = text;
  while (rest.length) {
    const match = /^(\d+(?:\.\d+)?)(us|ms|s|m|h)/.exec(rest);
    if (!match) return undefined;
    total += Number(match[1]) * (units[match[2] as string] as number);
    rest = rest.slice(match[0].length);
  }
  return text.length ? Math.ceil(total) : undefined;
}

/** A stable digest of the resolved service. Not Compose's own config hash (v1 mixes the local
 *  image id into it, v2 hashes differently): a manual `compose up` recreates such a container,
 *  as it would after any image change. berth itself never relies on the label. */
export function serviceDigest(config: ComposeServiceConfig): string {
  const canonical = (value: unknown): unknown =>
    Array.isArray(value)
      ? value.map(canonical)
      : value && typeof value === 'object'
        ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]))
        : value;
  return createHash('sha256').update(JSON.stringify(canonical(config))).digest('hex');
}

export function replicaPlan(input: ReplicaInput): ReplicaResult {
  const { config, project, service, top } = input;
  const unsupported: string[] = [];
  for (const key of Object.keys(config)) {
    if (!HANDLED.has(key) && !IGNORED.has(key) && !key.startsWith('x-')) unsupported.push(key);
  }
  const image = config.image;
  if (typeof image !== 'string' || !image) unsupported.push('image (missing)');

  const name = replicaName(input.flavour.name, project, service, input.number);
  const flags: string[] = ['--name', name, '--pull', 'never'];
  const flag = (option: string, value: unknown) => {
    if (value !== undefined && value !== null && value !== '') flags.push(option, str(value));
  };
  const bool = (option: string, value: unknown) => {
    if (value === true) flags.push(option);
  };

  // Environment: every value goes through the env file, so no secret is ever on a command line.
  const envLines: string[] = [];
  for (const [key, value] of pairs(config.environment)) {
    // Unset in every source: Compose leaves it out too.
    if (value === null) continue;
    if (/[\n\r\0]/.test(value)) unsupported.push(`environment.${key} (a value on several lines)`);
    else envLines.push(`${key}=${value}`);
  }
  if (envLines.length) flags.push('--env-file', input.envFile);

  const labels: [string, string][] = pairs(config.labels).map(([k, v]) => [k, v ?? '']);
  for (const [key, value] of Object.entries(input.projectLabels)) if (key.startsWith(PROJECT_LABEL_PREFIX)) labels.push([key, value]);
  labels.push(
    [COMPOSE_LABELS.project, project],
    [COMPOSE_LABELS.service, service],
    [COMPOSE_LABELS.oneoff, 'False'],
    [COMPOSE_LABELS.number, String(input.number)],
    [COMPOSE_LABELS.version, input.flavour.version],
    [COMPOSE_LABELS.configHash, serviceDigest(config)],
  );
  for (const [key, value] of labels) flags.push('--label', `${key}=${value}`);

  for (const [key, option] of SIMPLE_FLAGS) {
    if (option.endsWith('?')) bool(option.slice(0, -1), config[key]);
    else flag(option, config[key]);
  }
  if (config.stop_grace_period !== undefined) {
    const seconds = durationSeconds(config.stop_grace_period);
    if (seconds === undefined) unsupported.push(`stop_grace_period (${str(config.stop_grace_period)})`);
    else flags.push('--stop-timeout', String(seconds));
  }
  flag('--cpu-shares', config.cpu_shares);
  flag('--memory-swap', config.memswap_limit);
  for (const group of asList(config.group_add)) flag('--group-add', group);
  for (const cap of asList(config.cap_add)) flag('--cap-add', cap);
  for (const cap of asList(config.cap_drop)) flag('--cap-drop', cap);
  for (const opt of asList(config.security_opt)) flag('--security-opt', opt);
  for (const dns of asList(config.dns)) flag('--dns', dns);
  for (const search of asList(config.dns_search)) flag('--dns-search', search);
  for (const device of asList(config.devices)) {
    if (typeof device === 'string') flag('--device', device);
    else unsupported.push('devices (long syntax)');
  }
  // List entries are `host:ip` (v1) or `host=ip` (newer v2); an IPv6 address has colons of its own.
  const hosts = Array.isArray(config.extra_hosts) ? pairs(config.extra_hosts.map((h) => (str(h).includes('=') ? str(h) : str(h).replace(':', '=')))) : pairs(config.extra_hosts);
  for (const [host, ip] of hosts) {
    flag('--add-host', `${host}:${ip ?? ''}`);
  }
  for (const [key, value] of pairs(config.sysctls)) flag('--sysctl', `${key}=${value ?? ''}`);
  for (const [limit, value] of Object.entries((config.ulimits ?? {}) as Record<string, unknown>)) {
    const v = value as { soft?: unknown; hard?: unknown } | number;
    flag('--ulimit', typeof v === 'object' ? `${limit}=${str(v.soft)}:${str(v.hard)}` : `${limit}=${str(v)}`);
  }

  // Resources: deploy.resources is what Compose v1 (1.27+) and v2 both apply.
  const deploy = (config.deploy ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(deploy)) if (key !== 'resources' && !DEPLOY_IGNORED.has(key)) unsupported.push(`deploy.${key}`);
  const resources = (deploy.resources ?? {}) as { limits?: Record<string, unknown>; reservations?: Record<string, unknown> };
  for (const key of Object.keys(resources.limits ?? {})) if (!['memory', 'cpus', 'pids'].includes(key)) unsupported.push(`deploy.resources.limits.${key}`);
  for (const key of Object.keys(resources.reservations ?? {})) if (key !== 'memory') unsupported.push(`deploy.resources.reservations.${key}`);
  const pick = (a: unknown, b: unknown, what: string) => {
    if (a !== undefined && b !== undefined && str(a) !== str(b)) unsupported.push(`${what} (set twice, differently)`);
    return a ?? b;
  };
  flag('--memory', pick(resources.limits?.memory, config.mem_limit, 'memory limit'));
  flag('--cpus', pick(resources.limits?.cpus, config.cpus, 'cpu limit'));
  flag('--pids-limit', pick(resources.limits?.pids, config.pids_limit, 'pids limit'));
  flag('--memory-reservation', pick(resources.reservations?.memory, config.mem_reservation, 'memory reservation'));

  if (config.logging) {
    const logging = config.logging as { driver?: string; options?: Record<string, unknown> };
    flag('--log-driver', logging.driver);
    for (const [key, value] of pairs(logging.options)) flag('--log-opt', `${key}=${value ?? ''}`);
  }

  if (config.healthcheck) {
    const hc = config.healthcheck as Record<string, unknown>;
    const test = hc.test;
    if (hc.disable === true || (Array.isArray(test) && test[0] === 'NONE')) flags.push('--no-healthcheck');
    else {
      if (typeof test === 'string') flag('--health-cmd', test);
      else if (Array.isArray(test) && test[0] === 'CMD-SHELL') flag('--health-cmd', test.slice(1).join(' '));
      // The docker CLI can only pass a shell form; an exec-form test stays with Compose.
      else if (test !== undefined) unsupported.push('healthcheck.test (exec form)');
      flag('--health-interval', hc.interval);
      flag('--health-timeout', hc.timeout);
      flag('--health-retries', hc.retries);
      flag('--health-start-period', hc.start_period);
      for (const key of Object.keys(hc)) if (!['test', 'interval', 'timeout', 'retries', 'start_period', 'disable'].includes(key)) unsupported.push(`healthcheck.${key}`);
    }
  }

  for (const port of asList(config.expose)) flag('--expose', port);
  for (const port of asList(config.ports)) {
    if (typeof port === 'object' && port !== null) {
      const p = port as { target?: unknown; published?: unknown; host_ip?: unknown; protocol?: unknown; mode?: unknown };
      // Published host ports make a service a singleton (stop-first): never started this way.
      if (p.published !== undefined && p.published !== '') unsupported.push('ports (a fixed host port)');
      else flag('--publish', `${p.host_ip ? `${str(p.host_ip)}::` : ''}${str(p.target)}${p.protocol && p.protocol !== 'tcp' ? `/${str(p.protocol)}` : ''}`);
    } else if (/^(\[?[\d.:a-f]*\]?:)?\d+:\d+/.test(str(port))) unsupported.push('ports (a fixed host port)');
    else flag('--publish', port);
  }

  const volumes: string[] = [];
  for (const volume of asList(config.volumes)) {
    if (typeof volume === 'string') {
      const [source = '', target, ...mode] = volume.split(':');
      if (target === undefined) {
        flag('--volume', volume);
        continue;
      }
      const real = source.startsWith('/') || source.startsWith('.') ? source : realName('volume', source, project, top);
      if (!source.startsWith('/') && !source.startsWith('.')) volumes.push(real);
      flag('--volume', [real, target, ...mode].join(':'));
    } else {
      const v = volume as { type?: string; source?: string; target?: string; read_only?: boolean } & Record<string, unknown>;
      const extra = Object.keys(v).filter((k) => !['type', 'source', 'target', 'read_only', 'bind', 'volume'].includes(k));
      const bindExtra = Object.keys((v.bind ?? {}) as object).filter((k) => k !== 'create_host_path');
      const volumeExtra = Object.keys((v.volume ?? {}) as object).filter((k) => k !== 'nocopy');
      if (extra.length || bindExtra.length || volumeExtra.length) {
        unsupported.push(`volumes (${[...extra, ...bindExtra.map((k) => `bind.${k}`), ...volumeExtra.map((k) => `volume.${k}`)].join(', ')})`);
      } else if (v.type === 'tmpfs') flag('--tmpfs', v.target);
      else if (v.type === 'bind' || v.type === 'volume') {
        const real = v.type === 'volume' && v.source ? realName('volume', v.source, project, top) : v.source;
        if (v.type === 'volume' && real) volumes.push(real);
        const nocopy = (v.volume as { nocopy?: boolean } | undefined)?.nocopy ? ['nocopy'] : [];
        const mode = [...(v.read_only ? ['ro'] : []), ...nocopy];
        flag('--volume', [real, v.target].filter(Boolean).join(':') + (mode.length ? `:${mode.join(',')}` : ''));
      } else unsupported.push(`volumes (type ${str(v.type)})`);
    }
  }
  for (const tmpfs of asList(config.tmpfs)) flag('--tmpfs', tmpfs);

  // Networks: Compose v1 leaves `default` out of its config output; v2 lists it.
  const wanted: [string, Record<string, unknown>][] = Array.isArray(config.networks)
    ? config.networks.map((n) => [str(n), {}])
    : config.networks
      ? Object.entries(config.networks as Record<string, unknown>).map(([n, v]) => [n, (v ?? {}) as Record<string, unknown>])
      : [['default', {}]];
  const networks: string[] = [];
  const endpoints: { network: string; aliases: string[] }[] = [];
  for (const [key, endpoint] of wanted) {
    for (const k of Object.keys(endpoint)) if (k !== 'aliases' && k !== 'priority') unsupported.push(`networks.${key}.${k}`);
    const real = realName('network', key, project, top);
    networks.push(real);
    endpoints.push({ network: real, aliases: [...new Set([service, ...asList(endpoint.aliases).map(str)])] });
  }

  const words = (value: unknown, key: string): string[] | undefined => {
    if (value === undefined || value === null) return undefined;
    if (Array.isArray(value)) return value.map(str);
    try {
      return splitWords(str(value));
    } catch {
      unsupported.push(`${key} (unbalanced quotes)`);
      return undefined;
    }
  };
  const command = words(config.command, 'command');
  const entrypoint = words(config.entrypoint, 'entrypoint');
  // --entrypoint takes one word; the rest go first in the command: the same process argv.
  const [first, ...restOfEntrypoint] = entrypoint ?? [];
  if (entrypoint) flags.push('--entrypoint', first ?? '');
  const args = [...restOfEntrypoint, ...(command ?? [])];

  if (unsupported.length) return { ok: false, unsupported: [...new Set(unsupported)] };

  const [primary, ...others] = endpoints;
  const attach = (e: { network: string; aliases: string[] }) => e.aliases.flatMap((a) => ['--network-alias', a]);
  const network = primary ? ['--network', primary.network, ...attach(primary)] : [];
  const run = [...flags, ...network, image as string, ...args];
  // One network: a single `docker run`. More: create, attach the others, then start, so the
  // process never runs without the networks Compose would have given it.
  const commands = others.length
    ? [
        ['docker', 'create', ...run],
        ...others.map((e) => ['docker', 'network', 'connect', ...e.aliases.flatMap((a) => ['--alias', a]), e.network, name]),
        ['docker', 'start', name],
      ]
    : [['docker', 'run', '--detach', ...run]];
  return { ok: true, plan: { name, networks, volumes, envFileText: envLines.length ? `${envLines.join('\n')}\n` : '', commands } };
}
