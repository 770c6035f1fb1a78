// Disk hygiene for cron: remove the images no product needs while keeping, by image ID, every
// image a rollback may still want (the running release and the last N of every product); then
// report what can fill the disk or the memory. Each cleanup and each report runs on its own, so
// one failure never hides the others; anything an operator must act on is an alert (exit 1).
import { existsSync, readFileSync, statfsSync, statSync } from 'node:fs';
import { hostname, totalmem } from 'node:os';
import { dockerInspect, dockerPsIds, PROJECT_LABEL, SERVICE_LABEL } from '../commands/docker.mts';
import {
  dockerAllContainerIds,
  dockerBuilderPrune,
  dockerContainerImages,
  dockerDanglingIds,
  dockerImageRemove,
  dockerImagesJson,
  dockerLoggingDriver,
  dockerSystemDf,
} from '../commands/images.mts';
import type { Product, Settings } from '../config/load.mts';
import { checkEngine, type EngineInfo } from '../engine/engine.mts';
import { makeRedactor, postWebhook, webhookOrigin } from '../report/webhook.mts';
import { BerthError, LockError } from '../core/errors.mts';
import { recordedReleases, shortTag } from '../releases/history.mts';
import type { Runner } from '../core/runner.mts';
import { currentRelease, readLedger, type ReleaseRecord } from '../releases/ledger.mts';
import { acquireLock, type Lock } from '../releases/lock.mts';
import { loadCatalogue, type CatalogueEntry } from '../config/catalogue.mts';
import type { Ui } from '../core/ui.mts';

export const CLEANUPS = ['images', 'dangling', 'build-cache'] as const;
export type CleanupName = (typeof CLEANUPS)[number];
export const DEFAULT_KEEP = 5;
export const DEFAULT_DISK_THRESHOLD = 80;
export const DEFAULT_BUILD_CACHE_CAP = '5GB';

// ---------------------------------------------------------------------------------------------
// What to keep: pure, from the ledgers and the containers.

export interface KeepInput {
  product: string;
  records: ReleaseRecord[];
  /** How many releases to keep (product.keepReleases, default 5). */
  keep: number;
  /** Image IDs of the product's containers, running or not. */
  running: string[];
}

/** The last `n` releases (distinct tags, newest first) that ended well. */
export function keptReleases(records: ReleaseRecord[], n: number): string[] {
  return recordedReleases(records)
    .slice(0, Math.max(1, n))
    .map((r) => r.tag);
}

export interface KeepSet {
  /** image ID -> why it is kept. */
  ids: Map<string, string[]>;
  /** repo@sha256:... of kept releases, for images a ledger knows only by digest. */
  digests: Set<string>;
}

/** Every image the running releases and the last N releases of every product use, whatever their tags. */
export function imagesToKeep(inputs: KeepInput[]): KeepSet {
  const ids = new Map<string, string[]>();
  const digests = new Set<string>();
  const add = (id: string | undefined, why: string) => {
    if (!id) return;
    ids.set(id, [...(ids.get(id) ?? []), why]);
  };
  for (const input of inputs) {
    for (const id of new Set(input.running)) add(id, `${input.product}: a container uses it`);
    const current = currentRelease(input.records);
    const tags = keptReleases(input.records, input.keep);
    if (current && !tags.includes(current.tag)) tags.push(current.tag);
    for (const record of input.records) {
      if (record.result !== 'ok' || !tags.includes(record.tag)) continue;
      for (const [service, image] of Object.entries(record.services)) {
        add(image.id, `${input.product} ${shortTag(record.tag)} (${service})`);
        if (image.digest) digests.add(image.digest);
      }
    }
  }
  for (const [id, why] of ids) ids.set(id, [...new Set(why)]);
  return { ids, digests };
}

export interface LocalImage {
  repository: string;
  tag: string;
  digest: string;
  id: string;
}

export function parseImageList(text: string): LocalImage[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const row = JSON.parse(line) as { Repository: string; Tag: string; Digest: string; ID: string };
      return { repository: row.Repository, tag: row.Tag, digest: row.Digest, id: row.ID };
    });
}

export interface ImageRef {
  ref: string;
  id: string;
  repository: string;
  why?: string;
}

/** The name docker removes: repo:tag, or repo@digest for an image pulled by digest only. */
export function imageRef(image: LocalImage): string | undefined {
  if (image.tag && image.tag !== '<none>') return `${image.repository}:${image.tag}`;
  if (image.digest && image.digest !== '<none>') return `${image.repository}@${image.digest}`;
  return undefined;
}

/**
 * Which references to remove: only in the products' own repositories, never one whose image is
 * kept or used by any container. Tags come before digests: removing a repository's last tag
 * drops its digest references with it.
 */
export function planImageRemoval(images: LocalImage[], repositories: Set<string>, keep: KeepSet, inUse: Set<string>): { remove: ImageRef[]; keep: ImageRef[] } {
  const remove: ImageRef[] = [];
  const kept: ImageRef[] = [];
  const seen = new Set<string>();
  const sorted = [...images].sort((a, b) => Number(a.tag === '<none>') - Number(b.tag === '<none>'));
  for (const image of sorted) {
    if (!repositories.has(image.repository)) continue;
    const ref = imageRef(image);
    if (!ref || seen.has(ref)) continue;
    seen.add(ref);
    const digestRef = image.digest && image.digest !== '<none>' ? `${image.repository}@${image.digest}` : undefined;
    const why = keep.ids.get(image.id)?.join(', ') ?? (digestRef && keep.digests.has(digestRef) ? 'a kept release names its digest' : inUse.has(image.id) ? 'a container uses it' : undefined);
    (why ? kept : remove).push({ ref, id: image.id, repository: image.repository, ...(why ? { why } : {}) });
  }
  return { remove, keep: kept };
}

// ---------------------------------------------------------------------------------------------
// Logs, memory and disk: pure judgements over what the engine reports.

export interface ContainerHost {
  id: string;
  name: string;
  project: string;
  service: string;
  imageId: string;
  running: boolean;
  logDriver: string;
  logOptions: Record<string, string>;
  logPath: string;
  memoryBytes: number;
  memoryReservationBytes: number;
}

interface HostInspect {
  Id: string;
  Name: string;
  Image: string;
  LogPath?: string;
  State: { Running: boolean };
  Config: { Labels: Record<string, string> | null };
  HostConfig: { LogConfig?: { Type?: string; Config?: Record<string, string> | null }; Memory?: number; MemoryReservation?: number };
}

export function parseHostInspect(json: string): ContainerHost[] {
  return (JSON.parse(json) as HostInspect[]).map((c) => ({
    id: c.Id,
    name: c.Name.replace(/^\//, ''),
    project: c.Config.Labels?.[PROJECT_LABEL] ?? '',
    service: c.Config.Labels?.[SERVICE_LABEL] ?? '',
    imageId: c.Image,
    running: c.State.Running,
    logDriver: c.HostConfig.LogConfig?.Type ?? '',
    logOptions: c.HostConfig.LogConfig?.Config ?? {},
    logPath: c.LogPath ?? '',
    memoryBytes: c.HostConfig.Memory ?? 0,
    memoryReservationBytes: c.HostConfig.MemoryReservation ?? 0,
  }));
}

// Drivers whose logs leave the host's docker directory, or that rotate by themselves.
const SHIPPED = ['journald', 'syslog', 'gelf', 'fluentd', 'awslogs', 'splunk', 'etwlogs', 'gcplogs', 'logentries'];

/** Whether a container's logs are bounded. The daemon's log-opts are already merged into each
 *  container's LogConfig when it is created, so this is the truth for that container. */
export function logRotation(driver: string, options: Record<string, string>): { bounded: boolean; how: string } {
  const maxSize = options['max-size'];
  if (driver === 'json-file') {
    if (maxSize && maxSize !== '-1') return { bounded: true, how: `json-file, max-size ${maxSize} x max-file ${options['max-file'] ?? '1'}` };
    return { bounded: false, how: 'json-file without max-size: grows until the disk is full' };
  }
  if (driver === 'local') {
    if (maxSize === '-1') return { bounded: false, how: 'local with max-size -1: never rotates' };
    return { bounded: true, how: `local, max-size ${maxSize ?? '20m'} x max-file ${options['max-file'] ?? '5'}` };
  }
  if (driver === 'none') return { bounded: true, how: 'logging off' };
  if (SHIPPED.includes(driver)) return { bounded: true, how: `sent to ${driver} (its own retention)` };
  return { bounded: true, how: `${driver || 'unknown'} driver: check its retention yourself` };
}

export interface LogFinding {
  product: string;
  service: string;
  container: string;
  how: string;
  /** Size of the container's log file now, when readable. */
  logBytes?: number;
  fix: string;
}

export function logFix(service: string, composeFiles: string): string {
  return (
    `add to services.${service} in ${composeFiles}: logging: {driver: json-file, options: {max-size: "10m", max-file: "3"}} ` +
    `(or driver: local) and redeploy; or set "log-opts": {"max-size": "10m", "max-file": "3"} in /etc/docker/daemon.json, ` +
    'restart dockerd and recreate the containers (existing containers keep the options they were created with)'
  );
}

export interface MemoryLine {
  product: string;
  service: string;
  containers: number;
  limitBytes: number;
  reservationBytes: number;
}

export interface MemoryReport {
  hostBytes: number;
  /** Sum over running containers (replicas each count). */
  limitBytes: number;
  reservationBytes: number;
  overcommitted: boolean;
  services: MemoryLine[];
  /** Services with neither a limit nor a reservation: the sum says nothing about them. */
  unbounded: string[];
}

export function memoryReport(containers: (ContainerHost & { product: string })[], hostBytes: number): MemoryReport {
  const lines = new Map<string, MemoryLine>();
  for (const c of containers.filter((x) => x.running)) {
    const key = `${c.product}/${c.service || c.name}`;
    const line = lines.get(key) ?? { product: c.product, service: c.service || c.name, containers: 0, limitBytes: 0, reservationBytes: 0 };
    line.containers += 1;
    line.limitBytes += c.memoryBytes;
    line.reservationBytes += c.memoryReservationBytes;
    lines.set(key, line);
  }
  const services = [...lines.values()];
  const limitBytes = services.reduce((sum, s) => sum + s.limitBytes, 0);
  return {
    hostBytes,
    limitBytes,
    reservationBytes: services.reduce((sum, s) => sum + s.reservationBytes, 0),
    overcommitted: limitBytes > hostBytes,
    services,
    unbounded: services.filter((s) => s.limitBytes === 0 && s.reservationBytes === 0).map((s) => `${s.product}/${s.service}`),
  };
}

export interface DiskReport {
  path: string;
  totalBytes: number;
  freeBytes: number;
  usedPercent: number;
  threshold: number;
  over: boolean;
  /** `docker system df`: what images, containers, volumes and build cache take. */
  docker: { type: string; size: string; reclaimable: string }[];
}

/** Used percent the way df counts it: blocks reserved for root are neither used nor available. */
export function diskUsage(stats: { blocks: number; bfree: number; bavail: number; bsize: number }, path: string, threshold: number): Omit<DiskReport, 'docker'> {
  const used = (stats.blocks - stats.bfree) * stats.bsize;
  const free = stats.bavail * stats.bsize;
  const usedPercent = used + free > 0 ? Math.round((used / (used + free)) * 1000) / 10 : 0;
  return { path, totalBytes: stats.blocks * stats.bsize, freeBytes: free, usedPercent, threshold, over: usedPercent >= threshold };
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4 };

/** Docker parses sizes into an int64 and wraps around silently: a huge cap became a tiny one. */
export const MAX_SIZE = 2 ** 50;

/** '5GB', '512m', '1.5g' -> bytes (docker's units are binary); undefined when unreadable or above 1 PiB. */
export function parseSize(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (!match) return undefined;
  const unit = UNITS[(match[2] ?? '').toLowerCase().replace(/ib$/, 'b')];
  if (unit === undefined) return undefined;
  const bytes = Math.round(Number(match[1]) * unit);
  return bytes <= MAX_SIZE ? bytes : undefined;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes}B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)}${units[unit]}`;
}

// ---------------------------------------------------------------------------------------------
// The run.

export interface HygieneOptions {
  dryRun?: boolean;
  /** Overrides every product's keepReleases. */
  keep?: number;
  /** Only these products (default: every product file). */
  products?: string[];
  skip?: CleanupName[];
  buildCacheCap?: string;
  diskThreshold?: number;
  webhookUrl?: string;
  /** Where the daemon's defaults live, for the report. */
  daemonJson?: string;
  hostMemoryBytes?: number;
}

export interface CleanupResult {
  name: CleanupName;
  state: 'done' | 'skipped' | 'failed';
  summary: string;
  removed: string[];
  failed: { ref: string; error: string }[];
  error?: string;
}

export interface ProductHygiene {
  product: string;
  state: 'checked' | 'skipped';
  reason?: string;
  keep?: number;
  keptReleases?: string[];
}

export interface HygieneReport {
  host: string;
  time: string;
  dryRun: boolean;
  products: ProductHygiene[];
  cleanups: CleanupResult[];
  keptImages: ImageRef[];
  logs: { daemonDriver: string; daemonLogOpts: string; findings: LogFinding[]; error?: string };
  disk?: DiskReport;
  memory?: MemoryReport;
  alerts: string[];
  notified?: { ok: boolean; detail: string };
}

function message(error: unknown): string {
  return error instanceof BerthError ? error.message : error instanceof Error ? error.message : String(error);
}

async function containersOf(runner: Runner, entries: CatalogueEntry[]): Promise<(ContainerHost & { product: string })[]> {
  const all: (ContainerHost & { product: string })[] = [];
  for (const entry of entries) {
    const ids = (await runner.read(dockerPsIds({ project: entry.projectName, all: true, oneOff: true }))).split('\n').filter(Boolean);
    if (ids.length === 0) continue;
    all.push(...parseHostInspect(await runner.read(dockerInspect(ids))).map((c) => ({ ...c, product: entry.name })));
  }
  return all;
}

/** Image IDs of every container on the engine: docker refuses to remove them, so we never try. */
async function imagesInUse(runner: Runner): Promise<Set<string>> {
  const ids = (await runner.read(dockerAllContainerIds())).split('\n').filter(Boolean);
  if (ids.length === 0) return new Set();
  const lines = (await runner.read(dockerContainerImages(ids))).split('\n').filter(Boolean);
  return new Set(lines.map((line) => line.split('|')[1] ?? ''));
}

async function removeAll(runner: Runner, refs: string[], result: CleanupResult): Promise<void> {
  for (const ref of refs) {
    try {
      await runner.run(dockerImageRemove(ref));
      result.removed.push(ref);
    } catch (error) {
      const text = message(error);
      // A digest reference goes with its repository's last tag: already gone is done.
      if (/No such image/i.test(text)) result.removed.push(ref);
      else result.failed.push({ ref, error: text });
    }
  }
}

async function cleanImages(runner: Runner, ui: Ui, products: Product[], report: HygieneReport, options: HygieneOptions, inUse: Set<string>, keep: KeepSet): Promise<CleanupResult> {
  const result: CleanupResult = { name: 'images', state: 'done', summary: '', removed: [], failed: [] };
  const locks: Lock[] = [];
  try {
    const repositories = new Set<string>();
    for (const product of products) {
      if (!options.dryRun) {
        try {
          // A deploy between pull and record holds images no ledger names yet: leave that product alone.
          locks.push(await acquireLock(product.stateDir, { tag: '-', action: 'hygiene' }));
        } catch (error) {
          if (!(error instanceof LockError)) throw error;
          const entry = report.products.find((p) => p.product === product.name);
          if (entry) entry.reason = `images not cleaned: ${error.message}`;
          ui.warn(`${product.name}: ${error.message}; its images are left alone this time`);
          continue;
        }
      }
      for (const service of Object.values(product.services)) repositories.add(service.repository);
    }
    const plan = planImageRemoval(parseImageList(await runner.read(dockerImagesJson())), repositories, keep, inUse);
    report.keptImages = plan.keep;
    await removeAll(
      runner,
      plan.remove.map((r) => r.ref),
      result,
    );
    result.summary = `${options.dryRun ? 'would remove' : 'removed'} ${result.removed.length} image reference${result.removed.length === 1 ? '' : 's'}, kept ${plan.keep.length}`;
  } finally {
    for (const lock of locks) lock.release();
  }
  return result;
}

async function cleanDangling(runner: Runner, keep: KeepSet, inUse: Set<string>, options: HygieneOptions): Promise<CleanupResult> {
  const result: CleanupResult = { name: 'dangling', state: 'done', summary: '', removed: [], failed: [] };
  const ids = [...new Set((await runner.read(dockerDanglingIds())).split('\n').filter(Boolean))];
  // An untagged image a kept release names is still a rollback target: never "dangling" to us.
  await removeAll(
    runner,
    ids.filter((id) => !keep.ids.has(id) && !inUse.has(id)),
    result,
  );
  result.summary = `${options.dryRun ? 'would remove' : 'removed'} ${result.removed.length} dangling image${result.removed.length === 1 ? '' : 's'}`;
  return result;
}

async function pruneBuildCache(runner: Runner, options: HygieneOptions): Promise<CleanupResult> {
  const cap = options.buildCacheCap ?? DEFAULT_BUILD_CACHE_CAP;
  const bytes = parseSize(cap);
  // Docker is given plain bytes we checked, never the operator's text: it reads units loosely.
  if (bytes === undefined) throw new Error(`'${cap}' is not a size up to 1 PiB`);
  const run = await runner.run(dockerBuilderPrune(bytes), { timeoutMs: 10 * 60_000 });
  const reclaimed = /Total reclaimed space:\s*(\S+)/.exec(run.stdout)?.[1];
  return {
    name: 'build-cache',
    state: 'done',
    summary: options.dryRun ? `would prune the build cache down to ${cap}` : `pruned the build cache down to ${cap}${reclaimed ? `, reclaimed ${reclaimed}` : ''}`,
    removed: [],
    failed: [],
  };
}

function daemonLogOpts(path: string): string {
  if (!existsSync(path)) return `no ${path}: the daemon default has no log-opts`;
  try {
    const config = JSON.parse(readFileSync(path, 'utf8')) as { 'log-driver'?: string; 'log-opts'?: Record<string, string> };
    const opts = Object.entries(config['log-opts'] ?? {}).map(([k, v]) => `${k}=${v}`);
    return `${path}: log-driver ${config['log-driver'] ?? '(default)'}, log-opts ${opts.join(' ') || 'none'}`;
  } catch (error) {
    return `${path} unreadable (${message(error)})`;
  }
}

/** One Slack-compatible message through lib/report/webhook.mts: redacted, and the URL (it carries the
 *  hook's token) never printed, only its origin. */
export async function sendAlert(url: string, text: string, env: NodeJS.ProcessEnv = process.env): Promise<{ ok: boolean; detail: string }> {
  const origin = webhookOrigin(url);
  if (!origin) return { ok: false, detail: 'BERTH_WEBHOOK_URL is not an http(s) URL' };
  const failure = await postWebhook(url, { text: makeRedactor(env, [url])(text), attachments: [] });
  return failure ? { ok: false, detail: `webhook ${origin} failed (${failure})` } : { ok: true, detail: `sent to ${origin}` };
}

export async function runHygiene(runner: Runner, ui: Ui, settings: Settings, options: HygieneOptions = {}): Promise<HygieneReport> {
  const skip = new Set(options.skip ?? []);
  const catalogue = await loadCatalogue(settings, options.products);
  const engine: EngineInfo = await checkEngine(runner);
  const loaded = catalogue.filter((e): e is CatalogueEntry & { product: Product } => Boolean(e.product));
  const report: HygieneReport = {
    host: hostname(),
    time: new Date().toISOString(),
    dryRun: Boolean(options.dryRun),
    products: catalogue.map((e) =>
      e.product
        ? { product: e.name, state: 'checked', keep: options.keep ?? e.product.def.keepReleases ?? DEFAULT_KEEP }
        : { product: e.name, state: 'skipped', reason: `not deployed here (${e.problem})` },
    ),
    cleanups: [],
    keptImages: [],
    logs: { daemonDriver: '', daemonLogOpts: '', findings: [] },
    alerts: [],
  };

  let containers: (ContainerHost & { product: string })[] = [];
  let inUse = new Set<string>();
  let keep: KeepSet = { ids: new Map(), digests: new Set() };
  let ready: string | undefined;
  try {
    containers = await containersOf(runner, catalogue);
    inUse = await imagesInUse(runner);
    keep = imagesToKeep(
      loaded.map((e) => {
        const records = readLedger(e.product.stateDir);
        const n = options.keep ?? e.product.def.keepReleases ?? DEFAULT_KEEP;
        const entry = report.products.find((p) => p.product === e.name);
        if (entry) entry.keptReleases = keptReleases(records, n);
        return { product: e.name, records, keep: n, running: containers.filter((c) => c.product === e.name).map((c) => c.imageId) };
      }),
    );
  } catch (error) {
    // Without knowing what to keep, nothing may be removed; the reports below still run.
    ready = message(error);
  }

  const cleanups: [CleanupName, () => Promise<CleanupResult>][] = [
    ['images', () => cleanImages(runner, ui, loaded.map((e) => e.product), report, options, inUse, keep)],
    ['dangling', () => cleanDangling(runner, keep, inUse, options)],
    ['build-cache', () => pruneBuildCache(runner, options)],
  ];
  for (const [name, clean] of cleanups) {
    if (skip.has(name)) {
      report.cleanups.push({ name, state: 'skipped', summary: 'skipped (--skip)', removed: [], failed: [] });
      continue;
    }
    if (ready !== undefined && name !== 'build-cache') {
      report.cleanups.push({ name, state: 'failed', summary: `not run: cannot tell which images to keep (${ready})`, removed: [], failed: [], error: ready });
      continue;
    }
    const step = ui.step(`hygiene: ${name}`);
    try {
      const result = await clean();
      if (result.failed.length > 0) result.state = 'failed';
      report.cleanups.push(result);
      if (result.state === 'failed') step.fail(`${result.summary}; ${result.failed.length} could not be removed`);
      else step.succeed(result.summary);
    } catch (error) {
      report.cleanups.push({ name, state: 'failed', summary: message(error), removed: [], failed: [], error: message(error) });
      step.fail(message(error));
    }
  }

  try {
    const driver = await runner.read(dockerLoggingDriver());
    report.logs.daemonDriver = JSON.parse(driver) as string;
    report.logs.daemonLogOpts = daemonLogOpts(options.daemonJson ?? '/etc/docker/daemon.json');
    for (const c of containers.filter((x) => x.running)) {
      const rotation = logRotation(c.logDriver, c.logOptions);
      if (rotation.bounded) continue;
      const product = loaded.find((e) => e.name === c.product)?.product;
      let logBytes: number | undefined;
      try {
        logBytes = c.logPath ? statSync(c.logPath).size : undefined;
      } catch {
        logBytes = undefined;
      }
      report.logs.findings.push({
        product: c.product,
        service: c.service,
        container: c.name,
        how: rotation.how,
        ...(logBytes !== undefined ? { logBytes } : {}),
        fix: logFix(c.service, product?.composeFiles.join(', ') ?? 'the compose file'),
      });
    }
  } catch (error) {
    report.logs.error = message(error);
  }

  try {
    const path = existsSync(engine.rootDir) ? engine.rootDir : '/';
    const threshold = options.diskThreshold ?? DEFAULT_DISK_THRESHOLD;
    const df = await runner.probe(dockerSystemDf());
    const docker = df.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { Type: string; Size: string; Reclaimable: string })
      .map((row) => ({ type: row.Type, size: row.Size, reclaimable: row.Reclaimable }));
    report.disk = { ...diskUsage(statfsSync(path), path, threshold), docker };
  } catch (error) {
    report.alerts.push(`disk use unknown: ${message(error)}`);
  }

  report.memory = memoryReport(containers, options.hostMemoryBytes ?? totalmem());

  for (const cleanup of report.cleanups.filter((c) => c.state === 'failed')) {
    const failures = cleanup.failed.map((f) => `${f.ref}: ${f.error}`);
    report.alerts.push(`${cleanup.name} cleanup failed: ${cleanup.error ?? failures.join('; ')}`);
  }
  if (report.logs.error) report.alerts.push(`log rotation not checked: ${report.logs.error}`);
  if (report.disk?.over) {
    report.alerts.push(`disk ${report.disk.path} is ${report.disk.usedPercent}% full (threshold ${report.disk.threshold}%, ${formatBytes(report.disk.freeBytes)} free)`);
  }
  if (report.alerts.length > 0 && options.webhookUrl && !options.dryRun) {
    report.notified = await sendAlert(options.webhookUrl, `berth hygiene on ${report.host}: ${report.alerts.join('; ')}`, settings.env);
  }
  return report;
}

/** The human form, for cron mail and terminals. */
export function formatHygiene(report: HygieneReport): string[] {
  const lines: string[] = [];
  for (const p of report.products) {
    if (p.state === 'skipped') lines.push(`${p.product}: ${p.reason?.split('; ')[0]}${p.reason?.includes('; ') ? ')' : ''}`);
    else lines.push(`${p.product}: keeps ${p.keptReleases?.map(shortTag).join(', ') || 'no release yet'} (last ${p.keep})${p.reason ? `; ${p.reason}` : ''}`);
  }
  for (const c of report.cleanups) {
    lines.push(`${c.name}: ${c.state === 'done' ? c.summary : c.state === 'skipped' ? c.summary : `FAILED: ${c.summary}`}`);
    for (const ref of c.removed) lines.push(`  ${report.dryRun ? 'would remove' : 'removed'} ${ref}`);
    for (const f of c.failed) lines.push(`  could not remove ${f.ref}: ${f.error}`);
  }
  lines.push(`logs: daemon driver ${report.logs.daemonDriver || '?'} (${report.logs.daemonLogOpts || 'daemon.json not read'})`);
  if (report.logs.findings.length === 0 && !report.logs.error) lines.push('  no running product container has unbounded logs');
  for (const f of report.logs.findings) {
    lines.push(`  ${f.product}/${f.service} (${f.container}): ${f.how}${f.logBytes !== undefined ? `, ${formatBytes(f.logBytes)} so far` : ''}`);
    lines.push(`    fix: ${f.fix}`);
  }
  if (report.disk) {
    lines.push(`disk: ${report.disk.path} ${report.disk.usedPercent}% used, ${formatBytes(report.disk.freeBytes)} free (alert at ${report.disk.threshold}%)`);
    for (const d of report.disk.docker) lines.push(`  ${d.type.padEnd(14)} ${d.size.padStart(10)}  reclaimable ${d.reclaimable}`);
  }
  if (report.memory) {
    const m = report.memory;
    lines.push(`memory: limits of running product containers sum to ${formatBytes(m.limitBytes)} of ${formatBytes(m.hostBytes)} host RAM${m.overcommitted ? ' (OVERCOMMITTED)' : ''}; reservations ${formatBytes(m.reservationBytes)}`);
    for (const s of m.services) lines.push(`  ${`${s.product}/${s.service}`.padEnd(28)} limit ${s.limitBytes ? formatBytes(s.limitBytes) : 'none'}, reservation ${s.reservationBytes ? formatBytes(s.reservationBytes) : 'none'}${s.containers > 1 ? ` (${s.containers} containers)` : ''}`);
    if (m.unbounded.length > 0) lines.push(`  no limit and no reservation: ${m.unbounded.join(', ')} (set deploy.resources.limits.memory or mem_limit)`);
  }
  for (const alert of report.alerts) lines.push(`ALERT: ${alert}`);
  if (report.notified) lines.push(`notification: ${report.notified.ok ? 'sent' : `FAILED (${report.notified.detail})`}`);
  return lines;
}
