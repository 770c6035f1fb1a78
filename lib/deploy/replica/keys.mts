// Every compose key berth translates into docker flags, one function per key or group, and the
// table that says which keys those are: a key missing from it makes the service Compose's to start.
import type { ComposeFlavourName } from '../../commands/compose.mts';
import {
  BERTH_CONFIG_LABEL,
  COMPOSE_LABELS,
  configDigest,
  dependsOnLabel,
  PROJECT_LABEL_PREFIX,
  realName,
  serviceDigest,
} from './labels.mts';
import { asList, durationSeconds, pairs, splitWords, str } from './values.mts';
import { eachFlag, flag, type ComposeServiceConfig, type Draft } from './draft.mts';

/** deploy.* keys that change nothing about one container started beside the others. */
const DEPLOY_IGNORED = new Set(['replicas', 'update_config', 'rollback_config', 'placement', 'labels', 'mode', 'endpoint_mode']);

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

function environment(d: Draft): void {
  // Every value goes through the env file, so no secret is ever on a command line.
  for (const [key, value] of pairs(d.config.environment)) {
    // Unset in every source: Compose leaves it out too.
    if (value === null) continue;
    if (/[\n\r\0]/.test(value)) d.unsupported.push(`environment.${key} (a value on several lines)`);
    else d.envLines.push(`${key}=${value}`);
  }
  if (d.envLines.length) d.flags.push('--env-file', d.input.envFile);
}

function labels(d: Draft): void {
  const { input } = d;
  const all: [string, string][] = pairs(d.config.labels).map(([k, v]) => [k, v ?? '']);
  for (const [key, value] of Object.entries(input.projectLabels)) if (key.startsWith(PROJECT_LABEL_PREFIX)) all.push([key, value]);
  all.push(
    [COMPOSE_LABELS.project, input.project],
    [COMPOSE_LABELS.service, input.service],
    [COMPOSE_LABELS.oneoff, 'False'],
    [COMPOSE_LABELS.number, String(input.number)],
    [COMPOSE_LABELS.version, input.flavour.version],
    [COMPOSE_LABELS.configHash, input.configHash ?? serviceDigest(d.config)],
    [BERTH_CONFIG_LABEL, configDigest(input.config)],
  );
  if (input.flavour.name === 'v2') {
    all.push([COMPOSE_LABELS.dependsOn, dependsOnLabel(d.config.depends_on)]);
    if (input.imageId) all.push([COMPOSE_LABELS.image, input.imageId]);
  }
  for (const [key, value] of all) d.flags.push('--label', `${key}=${value}`);
}

/**
 * The restart policy Compose gives the service's containers: `deploy.restart_policy` when the
 * service has one (both flavours let it win over `restart`, measured on 1.29.2 and 2.31.0), else
 * `restart`. Without it a replica berth started would not come back after a reboot while the
 * containers Compose started would.
 */
export function restartPolicy(config: ComposeServiceConfig, flavour: ComposeFlavourName): string | undefined {
  const policy = (config.deploy as { restart_policy?: { condition?: unknown; max_attempts?: unknown } } | undefined)?.restart_policy;
  if (!policy) return config.restart === undefined ? undefined : str(config.restart);
  const condition = policy.condition === undefined ? undefined : str(policy.condition);
  // No condition: v1 restarts always, v2 sets no policy.
  if (condition === undefined) return flavour === 'v1' ? 'always' : undefined;
  if (condition === 'none') return 'no';
  if (condition === 'any') return 'always';
  if (condition === 'on-failure' && policy.max_attempts !== undefined) return `on-failure:${str(policy.max_attempts)}`;
  return condition;
}

function simpleFlags(d: Draft): void {
  for (const [key, option] of SIMPLE_FLAGS) {
    if (key === 'restart') flag(d, option, restartPolicy(d.config, d.input.flavour.name));
    else if (!option.endsWith('?')) flag(d, option, d.config[key]);
    else if (d.config[key] === true) d.flags.push(option.slice(0, -1));
  }
}

function stopGracePeriod(d: Draft): void {
  const grace = d.config.stop_grace_period;
  if (grace === undefined) return;
  const seconds = durationSeconds(grace);
  if (seconds === undefined) d.unsupported.push(`stop_grace_period (${str(grace)})`);
  else d.flags.push('--stop-timeout', String(seconds));
}

function devices(d: Draft): void {
  for (const device of asList(d.config.devices)) {
    if (typeof device === 'string') flag(d, '--device', device);
    else d.unsupported.push('devices (long syntax)');
  }
}

function extraHosts(d: Draft): void {
  const value = d.config.extra_hosts;
  // List entries are `host:ip` (v1) or `host=ip` (newer v2); an IPv6 address has colons of its own.
  const hosts = Array.isArray(value) ? pairs(value.map((h) => (str(h).includes('=') ? str(h) : str(h).replace(':', '=')))) : pairs(value);
  for (const [host, ip] of hosts) flag(d, '--add-host', `${host}:${ip ?? ''}`);
}

function ulimits(d: Draft): void {
  for (const [limit, value] of Object.entries((d.config.ulimits ?? {}) as Record<string, unknown>)) {
    const v = value as { soft?: unknown; hard?: unknown } | number;
    flag(d, '--ulimit', typeof v === 'object' ? `${limit}=${str(v.soft)}:${str(v.hard)}` : `${limit}=${str(v)}`);
  }
}

/** deploy.resources is what Compose v1 (1.27+) and v2 both apply; the old top-level keys agree or are refused. */
function resources(d: Draft): void {
  const { config, unsupported } = d;
  const deploy = (config.deploy ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(deploy))
    // restart_policy: simpleFlags, with `restart`.
    if (key !== 'resources' && key !== 'restart_policy' && !DEPLOY_IGNORED.has(key)) unsupported.push(`deploy.${key}`);
  const res = (deploy.resources ?? {}) as { limits?: Record<string, unknown>; reservations?: Record<string, unknown> };
  for (const key of Object.keys(res.limits ?? {}))
    if (!['memory', 'cpus', 'pids'].includes(key)) unsupported.push(`deploy.resources.limits.${key}`);
  for (const key of Object.keys(res.reservations ?? {})) if (key !== 'memory') unsupported.push(`deploy.resources.reservations.${key}`);
  const pick = (a: unknown, b: unknown, what: string) => {
    if (a !== undefined && b !== undefined && str(a) !== str(b)) unsupported.push(`${what} (set twice, differently)`);
    return a ?? b;
  };
  flag(d, '--memory', pick(res.limits?.memory, config.mem_limit, 'memory limit'));
  flag(d, '--cpus', pick(res.limits?.cpus, config.cpus, 'cpu limit'));
  flag(d, '--pids-limit', pick(res.limits?.pids, config.pids_limit, 'pids limit'));
  flag(d, '--memory-reservation', pick(res.reservations?.memory, config.mem_reservation, 'memory reservation'));
}

function logging(d: Draft): void {
  if (!d.config.logging) return;
  const value = d.config.logging as { driver?: string; options?: Record<string, unknown> };
  flag(d, '--log-driver', value.driver);
  for (const [key, option] of pairs(value.options)) flag(d, '--log-opt', `${key}=${option ?? ''}`);
}

function healthcheck(d: Draft): void {
  if (!d.config.healthcheck) return;
  const hc = d.config.healthcheck as Record<string, unknown>;
  const test = hc.test;
  if (hc.disable === true || (Array.isArray(test) && test[0] === 'NONE')) {
    d.flags.push('--no-healthcheck');
    return;
  }
  if (typeof test === 'string') flag(d, '--health-cmd', test);
  else if (Array.isArray(test) && test[0] === 'CMD-SHELL') flag(d, '--health-cmd', test.slice(1).join(' '));
  // The docker CLI can only pass a shell form; an exec-form test stays with Compose.
  else if (test !== undefined) d.unsupported.push('healthcheck.test (exec form)');
  flag(d, '--health-interval', hc.interval);
  flag(d, '--health-timeout', hc.timeout);
  flag(d, '--health-retries', hc.retries);
  flag(d, '--health-start-period', hc.start_period);
  for (const key of Object.keys(hc))
    if (!['test', 'interval', 'timeout', 'retries', 'start_period', 'disable'].includes(key)) d.unsupported.push(`healthcheck.${key}`);
}

function ports(d: Draft): void {
  for (const port of asList(d.config.ports)) {
    if (typeof port === 'object' && port !== null) {
      const p = port as { target?: unknown; published?: unknown; host_ip?: unknown; protocol?: unknown; mode?: unknown };
      // Published host ports make a service a singleton (stop-first): never started this way.
      if (p.published !== undefined && p.published !== '') d.unsupported.push('ports (a fixed host port)');
      else
        flag(
          d,
          '--publish',
          `${p.host_ip ? `${str(p.host_ip)}::` : ''}${str(p.target)}${p.protocol && p.protocol !== 'tcp' ? `/${str(p.protocol)}` : ''}`,
        );
    } else if (/^(\[?[\d.:a-f]*\]?:)?\d+:\d+/.test(str(port))) d.unsupported.push('ports (a fixed host port)');
    else flag(d, '--publish', port);
  }
}

function volumes(d: Draft): void {
  const { project, top } = d.input;
  for (const volume of asList(d.config.volumes)) {
    if (typeof volume === 'string') {
      const [source = '', target, ...mode] = volume.split(':');
      if (target === undefined) {
        flag(d, '--volume', volume);
        continue;
      }
      const named = !source.startsWith('/') && !source.startsWith('.');
      const real = named ? realName('volume', source, project, top) : source;
      if (named) d.volumes.push(real);
      flag(d, '--volume', [real, target, ...mode].join(':'));
      continue;
    }
    const v = volume as { type?: string; source?: string; target?: string; read_only?: boolean } & Record<string, unknown>;
    const extra = Object.keys(v).filter((k) => !['type', 'source', 'target', 'read_only', 'bind', 'volume'].includes(k));
    const bindExtra = Object.keys((v.bind ?? {}) as object).filter((k) => k !== 'create_host_path');
    const volumeExtra = Object.keys((v.volume ?? {}) as object).filter((k) => k !== 'nocopy');
    if (extra.length || bindExtra.length || volumeExtra.length) {
      d.unsupported.push(
        `volumes (${[...extra, ...bindExtra.map((k) => `bind.${k}`), ...volumeExtra.map((k) => `volume.${k}`)].join(', ')})`,
      );
    } else if (v.type === 'tmpfs') flag(d, '--tmpfs', v.target);
    else if (v.type === 'bind' || v.type === 'volume') {
      const real = v.type === 'volume' && v.source ? realName('volume', v.source, project, top) : v.source;
      if (v.type === 'volume' && real) d.volumes.push(real);
      const nocopy = (v.volume as { nocopy?: boolean } | undefined)?.nocopy ? ['nocopy'] : [];
      const mode = [...(v.read_only ? ['ro'] : []), ...nocopy];
      flag(d, '--volume', [real, v.target].filter(Boolean).join(':') + (mode.length ? `:${mode.join(',')}` : ''));
    } else d.unsupported.push(`volumes (type ${str(v.type)})`);
  }
}

function networks(d: Draft): void {
  const { config, input } = d;
  // Compose v1 leaves `default` out of its config output; v2 lists it.
  const wanted: [string, Record<string, unknown>][] = Array.isArray(config.networks)
    ? config.networks.map((n) => [str(n), {}])
    : config.networks
      ? Object.entries(config.networks as Record<string, unknown>).map(([n, v]) => [n, (v ?? {}) as Record<string, unknown>])
      : [['default', {}]];
  for (const [key, endpoint] of wanted) {
    for (const k of Object.keys(endpoint)) if (k !== 'aliases' && k !== 'priority') d.unsupported.push(`networks.${key}.${k}`);
    const real = realName('network', key, input.project, input.top);
    // v2 gives every container its own name as an alias on each network (v1: its short id, which
    // Docker answers to anyway).
    const own = input.flavour.name === 'v2' ? [d.name] : [];
    d.endpoints.push({ network: real, aliases: [...new Set([...own, input.service, ...asList(endpoint.aliases).map(str)])] });
  }
}

function processArgs(d: Draft): void {
  const words = (value: unknown, key: string): string[] | undefined => {
    if (value === undefined || value === null) return undefined;
    if (Array.isArray(value)) return value.map(str);
    try {
      return splitWords(str(value));
    } catch {
      d.unsupported.push(`${key} (unbalanced quotes)`);
      return undefined;
    }
  };
  const command = words(d.config.command, 'command');
  const entrypoint = words(d.config.entrypoint, 'entrypoint');
  // --entrypoint takes one word; the rest go first in the command: the same process argv.
  const [first, ...restOfEntrypoint] = entrypoint ?? [];
  if (entrypoint) d.flags.push('--entrypoint', first ?? '');
  d.args = [...restOfEntrypoint, ...(command ?? [])];
}

/** Every key berth translates, with what it adds, in the order docker gets the flags. */
export const TRANSLATIONS: [keys: string[], translate: (d: Draft) => void][] = [
  [['image'], (d) => (typeof d.config.image !== 'string' || !d.config.image ? void d.unsupported.push('image (missing)') : undefined)],
  [['environment'], environment],
  [['labels'], labels],
  [SIMPLE_FLAGS.map(([key]) => key), simpleFlags],
  [['stop_grace_period'], stopGracePeriod],
  [['cpu_shares'], (d) => flag(d, '--cpu-shares', d.config.cpu_shares)],
  [['memswap_limit'], (d) => flag(d, '--memory-swap', d.config.memswap_limit)],
  [['group_add'], eachFlag('--group-add', 'group_add')],
  [['cap_add'], eachFlag('--cap-add', 'cap_add')],
  [['cap_drop'], eachFlag('--cap-drop', 'cap_drop')],
  [['security_opt'], eachFlag('--security-opt', 'security_opt')],
  [['dns'], eachFlag('--dns', 'dns')],
  [['dns_search'], eachFlag('--dns-search', 'dns_search')],
  [['devices'], devices],
  [['extra_hosts'], extraHosts],
  [['sysctls'], (d) => pairs(d.config.sysctls).forEach(([key, value]) => flag(d, '--sysctl', `${key}=${value ?? ''}`))],
  [['ulimits'], ulimits],
  [['deploy', 'mem_limit', 'cpus', 'pids_limit', 'mem_reservation'], resources],
  [['logging'], logging],
  [['healthcheck'], healthcheck],
  [['expose'], eachFlag('--expose', 'expose')],
  [['ports'], ports],
  [['volumes'], volumes],
  [['tmpfs'], eachFlag('--tmpfs', 'tmpfs')],
  [['networks'], networks],
  [['entrypoint', 'command'], processArgs],
];
export const HANDLED = new Set(TRANSLATIONS.flatMap(([keys]) => keys));
