// Tiny images built from the host's own binaries, for the demo and the integration tests: no hub
// is needed, because a static busybox gives a scratch image a shell, httpd and wget, and Caddy
// runs in scratch with the libraries `ldd` names copied next to it. Where no static busybox
// exists but the hub is reachable, `FROM busybox` stands in for it.
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { dockerBuild } from '../commands/docker.mts';
import { findExecutable } from './daemon.mts';
import { CommandError, EngineError } from '../core/errors.mts';
import type { Runner } from '../core/runner.mts';

/** Images carry a hash of everything they were built from, so an unchanged image is not rebuilt. */
export const CONTENT_HASH_LABEL = 'berth.content-hash';

export interface Healthcheck {
  /** Exec form: no shell parsing. */
  test: string[];
  /** Docker durations such as '1s' or '500ms'. */
  interval?: string;
  timeout?: string;
  startPeriod?: string;
  retries?: number;
}

export interface BuiltImage {
  tag: string;
  id: string;
  /** False when an image with the same content hash already had this tag. */
  built: boolean;
}

export interface BusyboxImageOptions {
  tag: string;
  /** Path in the image -> content. Files under /app/ starting with '#!' become executable. */
  files: Record<string, string>;
  cmd?: string[];
  healthcheck?: Healthcheck;
  env?: Record<string, string>;
}

export interface HttpAppOptions {
  version: string;
  /** Port busybox httpd listens on inside the container. */
  port?: number;
  /** Whether /healthz answers 200 by default (APP_HEALTHY=0|1 overrides at run time). */
  healthy?: boolean;
  /** Seconds after it starts serving before /healthz answers (APP_HEALTHY_DELAY overrides). */
  healthyDelaySeconds?: number;
}

// One file in the build context: literal content, or a host file copied in (binaries).
interface ContextEntry {
  path: string;
  mode: number;
  content?: string;
  hostPath?: string;
}

let busyboxLookup: Promise<string | undefined> | undefined;

/** A statically linked busybox on this host, if there is one (Debian: busybox-static). */
export function hostStaticBusybox(): Promise<string | undefined> {
  busyboxLookup ??= (async () => {
    const found = await findExecutable('busybox');
    for (const candidate of ['/bin/busybox', '/usr/bin/busybox', ...(found ? [found] : [])]) {
      if (await isStaticElf(candidate)) return candidate;
    }
    return undefined;
  })();
  return busyboxLookup;
}

/** An ELF file without a PT_INTERP program header needs no dynamic loader. */
export async function isStaticElf(path: string): Promise<boolean> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch {
    return false;
  }
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46 || buf[5] !== 1) return false; // little-endian only
  const is64 = buf[4] === 2;
  const phoff = is64 ? Number(buf.readBigUInt64LE(0x20)) : buf.readUInt32LE(0x1c);
  const phentsize = buf.readUInt16LE(is64 ? 0x36 : 0x2a);
  const phnum = buf.readUInt16LE(is64 ? 0x38 : 0x2c);
  for (let i = 0; i < phnum; i++) {
    const offset = phoff + i * phentsize;
    if (offset + 4 > buf.length) return false;
    if (buf.readUInt32LE(offset) === 3) return false; // PT_INTERP
  }
  return true;
}

/** Dockerfile lines that give an image a busybox shell, plus the context entries they need. */
async function busyboxBase(): Promise<{ lines: string[]; entries: ContextEntry[] }> {
  const busybox = await hostStaticBusybox();
  if (!busybox) return { lines: ['FROM busybox'], entries: [] };
  return {
    lines: ['FROM scratch', 'COPY busybox /bin/busybox', 'RUN ["/bin/busybox", "--install", "-s", "/bin"]'],
    entries: [{ path: 'busybox', mode: 0o755, hostPath: busybox }],
  };
}

function rootfsEntries(files: Record<string, string>): ContextEntry[] {
  return Object.entries(files).map(([path, content]) => {
    if (!path.startsWith('/') || path.split('/').includes('..')) throw new Error(`image path must be absolute: ${path}`);
    const executable = path.startsWith('/app/') && content.startsWith('#!');
    return { path: `rootfs${path}`, mode: executable ? 0o755 : 0o644, content };
  });
}

function healthcheckLine(check: Healthcheck): string {
  const flags = [
    check.interval && `--interval=${check.interval}`,
    check.timeout && `--timeout=${check.timeout}`,
    check.startPeriod && `--start-period=${check.startPeriod}`,
    check.retries !== undefined && `--retries=${check.retries}`,
  ].filter(Boolean);
  return `HEALTHCHECK ${flags.join(' ')} CMD ${JSON.stringify(check.test)}`;
}

async function contentHash(dockerfile: string, entries: ContextEntry[]): Promise<string> {
  const hash = createHash('sha256').update(dockerfile);
  for (const entry of [...entries].sort((a, b) => a.path.localeCompare(b.path))) {
    hash.update(`\0${entry.path}\0${entry.mode}\0`);
    hash.update(entry.hostPath ? await readFile(entry.hostPath) : (entry.content ?? ''));
  }
  return hash.digest('hex').slice(0, 32);
}

async function buildFromContext(runner: Runner, tag: string, dockerfile: string, entries: ContextEntry[]): Promise<BuiltImage> {
  const hash = await contentHash(dockerfile, entries);
  const existing = await runner.probe([
    'docker',
    'image',
    'inspect',
    '--format',
    `{{index .Config.Labels "${CONTENT_HASH_LABEL}"}}|{{.Id}}`,
    tag,
  ]);
  const [existingHash, existingId] = existing.stdout.trim().split('|');
  if (existing.exitCode === 0 && existingHash === hash) return { tag, id: existingId ?? '', built: false };

  const context = await mkdtemp(join(tmpdir(), 'berth-image-'));
  try {
    await writeFile(join(context, 'Dockerfile'), dockerfile);
    for (const entry of entries) {
      const target = join(context, entry.path);
      await mkdir(dirname(target), { recursive: true });
      if (entry.hostPath) await copyFile(entry.hostPath, target);
      else await writeFile(target, entry.content ?? '');
      await chmod(target, entry.mode);
    }
    // The legacy builder: no buildx here, and for a two-layer scratch image it is the fastest.
    const argv = dockerBuild({ context, tags: [tag], labels: { [CONTENT_HASH_LABEL]: hash } });
    try {
      await runner.run(argv, { env: { DOCKER_BUILDKIT: '0' } });
    } catch (error) {
      if (error instanceof CommandError && dockerfile.startsWith('FROM busybox')) {
        throw new EngineError('cannot build a busybox image: no static busybox on this host and the busybox image cannot be pulled', {
          fix: 'install a static busybox (Debian: apt-get install busybox-static)',
          cause: error,
        });
      }
      throw error;
    }
  } finally {
    await rm(context, { recursive: true, force: true });
  }
  const id = runner.dryRun ? '' : await runner.read(['docker', 'image', 'inspect', '--format', '{{.Id}}', tag]);
  return { tag, id, built: true };
}

/** FROM scratch + static busybox (installed as /bin/sh, httpd, wget, ...) + the given files. */
export async function buildBusyboxImage(runner: Runner, options: BusyboxImageOptions): Promise<BuiltImage> {
  const base = await busyboxBase();
  const files = rootfsEntries(options.files);
  const lines = [...base.lines];
  if (files.length > 0) lines.push('COPY rootfs/ /');
  for (const [name, value] of Object.entries(options.env ?? {})) lines.push(`ENV ${name}=${JSON.stringify(value)}`);
  if (options.healthcheck) lines.push(healthcheckLine(options.healthcheck));
  lines.push(`CMD ${JSON.stringify(options.cmd ?? ['/bin/sh'])}`);
  return buildFromContext(runner, options.tag, `${lines.join('\n')}\n`, [...base.entries, ...files]);
}

/**
 * A tiny HTTP app: GET /version answers the version (no newline), / an HTML page with it, /who
 * the container's hostname (its short id) and, once ready, when it became ready, and
 * /healthz 'ok' while healthy. Run-time overrides: APP_VERSION, APP_HEALTHY=0|1, and
 * APP_START_DELAY=seconds before it listens (a slow boot).
 */
export function httpAppFiles(options: HttpAppOptions): Record<string, string> {
  if (!/^[\w.+-]+$/.test(options.version)) throw new Error(`version must be a plain word: ${options.version}`);
  const port = options.port ?? 8080;
  const healthy = options.healthy ?? true;
  // busybox httpd ignores SIGTERM as PID 1, so this shell is PID 1 and ends it: `docker stop`
  // then takes milliseconds instead of the 10 s grace period. Sleeping in the background and
  // `wait`ing keeps the trap live during the start delay too.
  const script = `#!/bin/sh
child=
trap 'kill "$child" 2>/dev/null; exit 0' TERM INT
version="\${APP_VERSION:-${options.version}}"
mkdir -p /www
printf '%s' "$version" > /www/version
printf '<!doctype html><title>%s</title><h1>%s</h1>\\n' "$version" "$version" > /www/index.html
# /who names the container that answered (its hostname is its short id), and once it is ready
# also when it became ready (microseconds since the epoch, from adjtimex: busybox date has no
# sub-second format). A test compares that with when each answer arrived.
hostname > /www/who
ready() {
  printf 'ok' > /www/healthz
  now=$(adjtimex | awk '/tv_sec/ { s = $2 } /tv_usec/ { u = $2 } END { printf "%d%06d", s, u }')
  printf '%s %s' "$(hostname)" "$now" > /www/who.tmp && mv /www/who.tmp /www/who
}
if [ "\${APP_START_DELAY:-0}" != 0 ]; then sleep "$APP_START_DELAY" & child=$!; wait "$child"; fi
delay="\${APP_HEALTHY_DELAY:-${options.healthyDelaySeconds ?? 0}}"
if [ "\${APP_HEALTHY:-${healthy ? 1 : 0}}" = 1 ]; then
  if [ "$delay" = 0 ]; then ready; else (sleep "$delay"; ready) & fi
fi
httpd -f -p ${port} -h /www &
child=$!
wait "$child"
`;
  return { '/app/run.sh': script };
}

/** A healthcheck that GETs a path on localhost (busybox wget; its -T flag segfaults, so none). */
export function httpHealthcheck(port = 8080, path = '/healthz'): Healthcheck {
  return { test: ['wget', '-q', '-O', '/dev/null', `http://127.0.0.1:${port}${path}`], interval: '1s', timeout: '2s', retries: 3 };
}

/** The HTTP app of httpAppFiles as an image, with a /healthz healthcheck unless told otherwise. */
export function buildHttpAppImage(runner: Runner, options: HttpAppOptions & { tag: string; healthcheck?: boolean }): Promise<BuiltImage> {
  return buildBusyboxImage(runner, {
    tag: options.tag,
    files: httpAppFiles(options),
    cmd: ['/app/run.sh'],
    healthcheck: options.healthcheck === false ? undefined : httpHealthcheck(options.port ?? 8080),
  });
}

/** Absolute paths of the shared libraries (and loader) `ldd` lists; none for a static binary. */
export function parseLdd(output: string): string[] {
  const paths: string[] = [];
  for (const line of output.split('\n')) {
    if (/=>\s*not found/.test(line)) throw new Error(`missing library: ${line.trim()}`);
    const match = /(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (match?.[1]) paths.push(match[1]);
  }
  return paths;
}

const DEFAULT_CADDYFILE = `{
\tauto_https off
}

:80 {
\trespond "berth caddy" 200
}
`;

/**
 * Caddy from this host's /usr/bin/caddy in a scratch image, with busybox for a shell and wget.
 * Default command: caddy run with /etc/caddy/Caddyfile (mount or pass your own in `files`).
 */
export async function buildCaddyImage(runner: Runner, options: { tag: string; files?: Record<string, string> }): Promise<BuiltImage> {
  const caddy = await findExecutable('caddy', ['/usr/bin']);
  if (!caddy) throw new EngineError('caddy is not installed on this host', { fix: 'apt-get install caddy' });
  const ldd = await runner.probe(['ldd', caddy]);
  // ldd exits non-zero for a static binary ("not a dynamic executable"): then nothing to copy.
  const libraries = ldd.exitCode === 0 ? parseLdd(ldd.stdout) : [];
  // Copy each file to the path ldd printed (the loader looks there); copyFile follows symlinks.
  const binaries: ContextEntry[] = [caddy, ...libraries].map((path) => ({
    path: `rootfs${path === caddy ? '/usr/bin/caddy' : path}`,
    mode: 0o755,
    hostPath: path,
  }));
  const base = await busyboxBase();
  const files = rootfsEntries({ '/etc/caddy/Caddyfile': DEFAULT_CADDYFILE, ...options.files });
  const dockerfile = [
    ...base.lines,
    'COPY rootfs/ /',
    'RUN mkdir -p /data /config /tmp && chmod 1777 /tmp',
    // Caddy stores state under HOME/XDG dirs and refuses to start when it cannot.
    'ENV HOME=/data XDG_DATA_HOME=/data XDG_CONFIG_HOME=/config',
    'CMD ["/usr/bin/caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]',
    '',
  ].join('\n');
  return buildFromContext(runner, options.tag, dockerfile, [...base.entries, ...binaries, ...files]);
}
