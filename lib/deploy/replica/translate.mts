// Pure argv for starting one more replica of a service without Compose: `docker run` (or create,
// network connect, start) from the service as `compose config` resolved it, with the labels that
// make Compose v1 and v2 count the container as one of the service's own.
//
// Why: Compose v1 is a Python program that spends 1.5-2 s (more on a busy VM) on an
// `up --scale web=2 --no-recreate`; `docker run` starts the same container in a few hundred ms,
// which is most of the gap between berth's switch and the pull+healthy floor.
//
// Only keys whose meaning is plain are translated: the keys of TRANSLATIONS in keys.mts. Any
// other key makes `replicaPlan` return the reasons, and the caller lets Compose start that service
// as before: slower, never different.
import { replicaName, unescapeDollars } from './labels.mts';
import type { Draft, ReplicaInput } from './draft.mts';
import { HANDLED, TRANSLATIONS } from './keys.mts';

export type { ComposeTopLevel } from './labels.mts';

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

export function replicaPlan(input: ReplicaInput): ReplicaResult {
  const config = unescapeDollars(input.config);
  const name = replicaName(input.flavour.name, input.project, input.service, input.number);
  const d: Draft = {
    input,
    config,
    name,
    flags: ['--name', name, '--pull', 'never'],
    unsupported: [],
    envLines: [],
    volumes: [],
    endpoints: [],
    args: [],
  };
  for (const key of Object.keys(config)) {
    if (!HANDLED.has(key) && !IGNORED.has(key) && !key.startsWith('x-')) d.unsupported.push(key);
  }
  for (const [, translate] of TRANSLATIONS) translate(d);
  if (d.unsupported.length) return { ok: false, unsupported: [...new Set(d.unsupported)] };

  const [primary, ...others] = d.endpoints;
  const attach = (e: { network: string; aliases: string[] }) => e.aliases.flatMap((a) => ['--network-alias', a]);
  const network = primary ? ['--network', primary.network, ...attach(primary)] : [];
  const run = [...d.flags, ...network, config.image as string, ...d.args];
  // One network: a single `docker run`. More: create, attach the others, then start, so the
  // process never runs without the networks Compose would have given it.
  const commands = others.length
    ? [
        ['docker', 'create', ...run],
        ...others.map((e) => ['docker', 'network', 'connect', ...e.aliases.flatMap((a) => ['--alias', a]), e.network, name]),
        ['docker', 'start', name],
      ]
    : [['docker', 'run', '--detach', ...run]];
  const envFileText = d.envLines.length ? `${d.envLines.join('\n')}\n` : '';
  return { ok: true, plan: { name, networks: d.endpoints.map((e) => e.network), volumes: d.volumes, envFileText, commands } };
}
