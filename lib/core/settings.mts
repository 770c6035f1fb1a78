// Every BERTH_* variable berth reads, declared once: its name, type, default and meaning. The
// environment is parsed and checked here, every error at once with the variable's name, before
// any product is loaded. README's Settings table is this list (a unit test holds them together).
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { wholeNumber } from './cli.mts';

/** This checkout of berth. */
export const BERTH_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface BerthSettings {
  envFile: string;
  root: string;
  productsDir: string;
  workspace: string;
  stateDir: string;
  registry: string | undefined;
  registryUser: string | undefined;
  registryToken: string | undefined;
  compose: 'v1' | 'v2' | undefined;
  start: 'direct' | 'compose';
  engine: 'compose' | 'swarm';
  who: string | undefined;
  /** A path, false when switched off, undefined for the default beside the ledgers. */
  deployLog: string | false | undefined;
  prometheusTextfile: string | undefined;
  webhookUrl: string | undefined;
  webhookTimeoutMs: number;
  buildCache: 'registry' | 'none' | undefined;
  buildCacheCap: string | undefined;
  hygieneBuilderPrune: boolean;
  diskThreshold: number | undefined;
  nice: number;
}

interface Declared<T> {
  variable: `BERTH_${string}`;
  /** As README shows it. */
  type: string;
  default: string;
  meaning: string;
  /** The value of a set variable (never empty), or an error that follows the variable's name. */
  parse: (raw: string) => { value: T } | { error: string };
  /** The value when the variable is unset or empty. */
  fallback: () => T;
}

const text = (raw: string) => ({ value: raw });
const path = (raw: string) => ({ value: resolve(raw) });
const choice =
  <C extends string>(...choices: C[]) =>
  (raw: string) =>
    (choices as string[]).includes(raw) ? { value: raw as C } : { error: `is '${raw}': use ${choices.join(' or ')}` };
const integer = (min: number, max: number) => (raw: string) => {
  const value = wholeNumber(raw, min, max);
  return value === undefined ? { error: `must be a whole number from ${min} to ${max}, not '${raw}'` } : { value };
};
const unset = () => undefined;

export const SETTINGS: { [K in keyof BerthSettings]: Declared<BerthSettings[K]> } = {
  envFile: {
    variable: 'BERTH_ENV_FILE',
    type: 'path',
    default: '`.env` beside berth',
    meaning: 'a file of settings; the real environment wins over it',
    parse: path,
    fallback: () => join(BERTH_ROOT, '.env'),
  },
  root: {
    variable: 'BERTH_ROOT',
    type: 'path',
    default: 'this checkout',
    meaning: 'the checkout `npm run shims` and `npm run drift` work on',
    parse: path,
    fallback: () => resolve(BERTH_ROOT),
  },
  productsDir: {
    variable: 'BERTH_PRODUCTS_DIR',
    type: 'path',
    default: '`products/`',
    meaning: 'product definitions',
    parse: path,
    fallback: () => resolve(join(BERTH_ROOT, 'products')),
  },
  workspace: {
    variable: 'BERTH_WORKSPACE',
    type: 'path',
    default: "berth's parent directory",
    meaning: 'where product repos live',
    parse: path,
    // Product repos sit beside berth on the VM (/srv/berth, /srv/invttrdg, ...).
    fallback: () => resolve(join(BERTH_ROOT, '..')),
  },
  stateDir: {
    variable: 'BERTH_STATE_DIR',
    type: 'path',
    default: '`/var/lib/berth` as root, else `~/.local/state/berth`',
    meaning: 'ledgers, locks, upstream files, deploy log',
    parse: path,
    fallback: () => (process.getuid?.() === 0 ? '/var/lib/berth' : join(homedir(), '.local', 'state', 'berth')),
  },
  registry: {
    variable: 'BERTH_REGISTRY',
    type: 'host[:port][/namespace]',
    default: 'none',
    meaning: 'the registry of products that do not set `registry`',
    parse: text,
    fallback: unset,
  },
  registryUser: {
    variable: 'BERTH_REGISTRY_USER',
    type: 'text',
    default: 'none (an open registry)',
    meaning: '`docker login` user; set together with BERTH_REGISTRY_TOKEN',
    parse: text,
    fallback: unset,
  },
  registryToken: {
    variable: 'BERTH_REGISTRY_TOKEN',
    type: 'secret',
    default: 'none',
    meaning: '`docker login` token, passed on stdin and redacted from every output, log and the ledger',
    parse: text,
    fallback: unset,
  },
  compose: {
    variable: 'BERTH_COMPOSE',
    type: '`v1` or `v2`',
    default: 'v2 when installed, else v1',
    meaning: 'forces a Compose flavour',
    parse: choice('v1', 'v2'),
    fallback: unset,
  },
  start: {
    variable: 'BERTH_START',
    type: '`direct` or `compose`',
    default: 'direct',
    meaning: 'how new replicas of a start-first service start: `docker` commands, or Compose',
    parse: choice('direct', 'compose'),
    fallback: () => 'direct' as const,
  },
  engine: {
    variable: 'BERTH_ENGINE',
    type: '`compose` or `swarm`',
    default: 'compose',
    meaning:
      'what runs the products on this VM: Compose on this engine, or a Docker Swarm this engine manages (`docker stack deploy`; first slice, see Swarm in README)',
    parse: choice('compose', 'swarm'),
    fallback: () => 'compose' as const,
  },
  who: {
    variable: 'BERTH_WHO',
    type: 'text',
    default: 'the login user (`SUDO_USER` under sudo)',
    meaning: 'who deploys, for the ledger, the lock and the deploy log',
    parse: text,
    fallback: unset,
  },
  deployLog: {
    variable: 'BERTH_DEPLOY_LOG',
    type: 'path or `off`',
    default: '`$BERTH_STATE_DIR/deploys.jsonl`',
    meaning: 'JSON lines, one per product deploy, with per-step durations',
    parse: (raw) => ({ value: raw === 'off' ? (false as const) : raw }),
    fallback: unset,
  },
  prometheusTextfile: {
    variable: 'BERTH_PROMETHEUS_TEXTFILE',
    type: 'path ending in `.prom`',
    default: 'none',
    meaning: "node_exporter textfile: each product's last deploy duration, result, time and step times, and its delivery metrics",
    parse: text,
    fallback: unset,
  },
  webhookUrl: {
    variable: 'BERTH_WEBHOOK_URL',
    type: 'http(s) URL',
    default: 'none',
    // Not refused here: a webhook is never a reason for a deploy to fail, so a bad URL is a warning when sending.
    meaning: 'Slack-compatible notifications of deploys and hygiene alerts; a bad or unreachable one is a warning only',
    parse: text,
    fallback: unset,
  },
  webhookTimeoutMs: {
    variable: 'BERTH_WEBHOOK_TIMEOUT_MS',
    type: 'milliseconds',
    default: '5000',
    meaning: 'how long a webhook may take',
    parse: integer(1, 600_000),
    fallback: () => 5_000,
  },
  buildCache: {
    variable: 'BERTH_BUILD_CACHE',
    type: '`registry` or `none`',
    default: 'none',
    meaning: "build's `--cache` when not given",
    parse: choice('registry', 'none'),
    fallback: unset,
  },
  buildCacheCap: {
    variable: 'BERTH_BUILD_CACHE_CAP',
    type: 'size, e.g. `5GB`',
    default: "hygiene's (see `hygiene --help`)",
    meaning: "hygiene's `--build-cache-cap` when not given",
    parse: text,
    fallback: unset,
  },
  hygieneBuilderPrune: {
    variable: 'BERTH_HYGIENE_BUILDER_PRUNE',
    type: '`on` or `off`',
    default: 'off',
    meaning:
      "whether hygiene prunes the build cache (`docker builder prune --keep-storage`): the cache is the whole engine's, every user's, not berth's alone; the VM never builds, so on it the cache is someone else's (or an emergency `--build-on-vm`'s)",
    parse: (raw) => (raw === 'on' ? { value: true } : raw === 'off' ? { value: false } : { error: `is '${raw}': use on or off` }),
    // Off: berth cannot tell its build cache from anyone else's, and never touches what is not its own.
    fallback: () => false,
  },
  diskThreshold: {
    variable: 'BERTH_DISK_THRESHOLD',
    type: 'percent, 1-100',
    default: "hygiene's (see `hygiene --help`)",
    meaning: "hygiene's `--disk-threshold` when not given",
    parse: integer(1, 100),
    fallback: unset,
  },
  nice: {
    variable: 'BERTH_NICE',
    type: 'niceness, 0-19',
    default: '10',
    meaning:
      'CPU priority of deploy, deploy-all and rollback and of every command they start, from before their modules load (a value in the `.env` file applies once it is read): on a small VM their bursts must not delay the traffic they switch; 0 keeps normal priority',
    parse: integer(0, 19),
    fallback: () => 10,
  },
};

/** One setting from `env`, as declared; a value that does not parse reads as its default (parseSettings reports it). */
export function readSetting<K extends keyof BerthSettings>(env: NodeJS.ProcessEnv, key: K): BerthSettings[K] {
  const declared = SETTINGS[key];
  const raw = env[declared.variable];
  if (raw === undefined || raw === '') return declared.fallback();
  const parsed = declared.parse(raw);
  return 'value' in parsed ? parsed.value : declared.fallback();
}

/** Every setting, and one line per variable that is set to something it cannot be. */
export function parseSettings(env: NodeJS.ProcessEnv): { settings: BerthSettings; errors: string[] } {
  const errors: string[] = [];
  const settings: Record<string, unknown> = {};
  for (const [key, declared] of Object.entries(SETTINGS) as [keyof BerthSettings, Declared<unknown>][]) {
    const raw = env[declared.variable];
    const parsed = raw === undefined || raw === '' ? { value: declared.fallback() } : declared.parse(raw);
    if ('error' in parsed) errors.push(`${declared.variable} ${parsed.error}`);
    settings[key] = 'value' in parsed ? parsed.value : declared.fallback();
  }
  return { settings: settings as unknown as BerthSettings, errors };
}

/** README's Settings table, one row per variable. */
export function settingsTable(): string[] {
  const cell = (s: string) => s.replaceAll('|', '\\|');
  return [
    '| variable | type | default | meaning |',
    '| --- | --- | --- | --- |',
    ...Object.values(SETTINGS).map((d) => `| \`${d.variable}\` | ${cell(d.type)} | ${cell(d.default)} | ${cell(d.meaning)} |`),
  ];
}
