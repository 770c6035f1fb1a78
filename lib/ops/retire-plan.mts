// What retiring a product would remove and keep, read from the engine, the edge and the state
// directory without changing anything, and the plan as the operator reads it before saying --yes.
// retire.mts carries it out in the order the plan lists.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_LABEL, SERVICE_LABEL } from '../commands/docker.mts';
import { dockerAllContainerIds, dockerImagesJson } from '../commands/images.mts';
import { dockerProjectNetworks, dockerProjectVolumes } from '../commands/project.mts';
import type { CatalogueEntry } from '../config/catalogue.mts';
import { loadEdge, type Edge, type Settings } from '../config/load.mts';
import { ConfigError, UsageError } from '../core/errors.mts';
import type { Runner } from '../core/runner.mts';
import { siteFile } from '../deploy/edge.mts';
import { inspectContainers, listContainers, psContainers, type ContainerState } from '../engine/engine.mts';
import { ledgerPath, readLedger } from '../releases/ledger.mts';
import { parseImageList, removalRef } from './hygiene/retention.mts';

export interface RetireOptions {
  /** Also remove the project's named volumes (and the containers' anonymous ones). */
  volumes?: boolean;
  /** Leave the ledger where it is (a later deploy of the same name continues its history). */
  keepLedger?: boolean;
  dryRun?: boolean;
  /** The operator saw the plan and confirmed it; without it nothing changes. */
  yes?: boolean;
}

export interface RetirePlan {
  product: string;
  project: string;
  /** Other products in the same Compose project: only this product's services' containers go,
   *  and the project's networks and volumes stay. */
  sharedWith: string[];
  containers: { id: string; name: string; service: string; state: string }[];
  networks: string[];
  volumes: { name: string; action: 'keep' | 'remove' }[];
  /** The product's site file on the shared edge, and the edge container reloaded without it. */
  routes?: { file: string; hosts: string[]; edge?: string };
  repositories: string[];
  /** repo:tag or repo@digest references removed, tags first. */
  images: string[];
  /** References kept because a container that is not this product's uses their image. */
  imagesKept: { ref: string; why: string }[];
  /** Why the product's repositories are unknown (its file does not resolve here). */
  imagesUnknown?: string;
  /** The product's state: its ledger and the files berth keeps for its proxy. */
  state: { dir: string; ledger: string; releases: number; action: 'archive' | 'keep-ledger' | 'none'; archive?: string };
  /** What retire never touches, for the operator to delete. */
  leftAlone: string[];
}

const lines = (text: string) =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);

/** The hosts a site file routes (its blocks' addresses). */
export function siteHosts(text: string): string[] {
  return [...text.matchAll(/^(?:https?:\/\/)?([^\s#{}][^\s{}]*)\s*\{\s*$/gm)].map((m) => m[1] as string);
}

/** State files berth keeps for the product, besides the lock and earlier archives. */
export function stateEntries(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => f !== 'lock' && f !== 'retired') : [];
}

/** Image IDs that containers other than `ours` use: those images stay, whoever's tag they carry.
 *  Other people's containers come and go meanwhile (a shared engine): one gone is simply gone. */
async function imagesUsedByOthers(runner: Runner, ours: Set<string>): Promise<Map<string, string>> {
  const others = lines(await runner.read(dockerAllContainerIds())).filter((id) => !ours.has(id));
  const used = new Map<string, string>();
  for (const c of await inspectContainers(runner, others)) {
    const project = c.labels[PROJECT_LABEL];
    used.set(c.imageId, `container ${c.name}${project ? ` of project ${project}` : ''} uses it`);
  }
  return used;
}

export async function edgeContainer(runner: Runner, edge: Edge): Promise<ContainerState | undefined> {
  return (await listContainers(runner, edge.project, edge.service)).filter((c) => c.running).at(-1);
}

/** What retiring `entry` would remove and keep; reads only. */
export async function planRetire(
  runner: Runner,
  settings: Settings,
  entry: CatalogueEntry,
  catalogue: CatalogueEntry[],
  options: RetireOptions,
): Promise<RetirePlan> {
  const project = entry.projectName;
  const sharedWith = catalogue.filter((e) => e.name !== entry.name && e.projectName === project).map((e) => e.name);
  if (sharedWith.length > 0 && !entry.product) {
    throw new ConfigError(
      `${entry.name}'s product file does not resolve here (${entry.problem}) and its Compose project ${project} is shared with ${sharedWith.join(', ')}: its containers cannot be told apart`,
      { fix: `fix ${entry.name}'s product file so that it lists its services, then rerun` },
    );
  }

  const edge = await loadEdge(settings);
  const file = edge ? siteFile(edge, entry.name) : undefined;
  if (edge && project === edge.project) {
    const others = existsSync(edge.sitesDir)
      ? readdirSync(edge.sitesDir).filter((f) => f.endsWith('.caddy') && f !== `${entry.name}.caddy`)
      : [];
    if (others.length > 0) {
      throw new UsageError(
        `${entry.name} runs the shared edge (${edge.file}), and ${others.map((f) => f.replace(/\.caddy$/, '')).join(', ')} route through it: retiring it takes their routes down`,
        { fix: `retire or move those products first, or point ${edge.file} at another project` },
      );
    }
  }
  let routes: RetirePlan['routes'];
  if (edge && file && existsSync(file)) {
    routes = { file, hosts: siteHosts(readFileSync(file, 'utf8')), edge: (await edgeContainer(runner, edge))?.name };
  }

  const services = entry.product ? new Set(Object.keys(entry.product.services)) : undefined;
  const found = await psContainers(runner, { project, all: true, oneOff: true });
  const mine = found.filter((c) => sharedWith.length === 0 || services?.has(c.labels[SERVICE_LABEL] ?? ''));
  const containers = (
    await inspectContainers(
      runner,
      mine.map((c) => c.id),
    )
  )
    .sort((a, b) => a.service.localeCompare(b.service) || a.name.localeCompare(b.name))
    .map((c) => ({ id: c.id, name: c.name, service: c.service, state: c.status }));

  // A shared project's networks and volumes are the other products' too.
  const networks = sharedWith.length > 0 ? [] : lines(await runner.read(dockerProjectNetworks(project)));
  const volumes: RetirePlan['volumes'] =
    sharedWith.length > 0
      ? []
      : lines(await runner.read(dockerProjectVolumes(project))).map((name) => ({ name, action: options.volumes ? 'remove' : 'keep' }));

  const repositories = entry.product ? [...new Set(Object.values(entry.product.services).map((s) => s.repository))].sort() : [];
  const images: string[] = [];
  const imagesKept: RetirePlan['imagesKept'] = [];
  if (repositories.length > 0) {
    const usedByOthers = await imagesUsedByOthers(runner, new Set(containers.map((c) => c.id)));
    const all = parseImageList(await runner.read(dockerImagesJson()));
    const listed = all
      .filter((i) => repositories.includes(i.repository))
      // Tags first: removing a repository's last tag takes its digest references with it.
      .sort((a, b) => Number(a.tag === '<none>') - Number(b.tag === '<none>'));
    for (const image of listed) {
      const ref = removalRef(image);
      if (!ref || images.includes(ref) || imagesKept.some((k) => k.ref === ref)) continue;
      // Untagging an image another tag still names leaves it to whoever uses it; only an image
      // whose every name is ours, and that another project's container runs, must stay.
      const namedElsewhere = all.some((i) => i.id === image.id && i.tag !== '<none>' && !repositories.includes(i.repository));
      const why = namedElsewhere ? undefined : usedByOthers.get(image.id);
      if (why) imagesKept.push({ ref, why });
      else images.push(ref);
    }
  }

  const records = readLedger(entry.stateDir);
  const entries = stateEntries(entry.stateDir);
  const archived = options.keepLedger ? entries.filter((f) => f !== 'releases.jsonl') : entries;
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return {
    product: entry.name,
    project,
    sharedWith,
    containers,
    networks,
    volumes,
    ...(routes ? { routes } : {}),
    repositories,
    images,
    imagesKept,
    ...(entry.product ? {} : { imagesUnknown: `its product file does not resolve here (${entry.problem})` }),
    state: {
      dir: entry.stateDir,
      ledger: ledgerPath(entry.stateDir),
      releases: records.length,
      action: archived.length === 0 ? 'none' : options.keepLedger ? 'keep-ledger' : 'archive',
      ...(archived.length > 0 ? { archive: join(entry.stateDir, 'retired', stamp) } : {}),
    },
    leftAlone: [
      ...(entry.product ? [`the checkout ${entry.product.repoDir}`] : []),
      `the product file ${join(settings.productsDir, `${entry.name}.mts`)}`,
    ],
  };
}

/** Whether the plan has anything to do. */
export function planIsEmpty(plan: RetirePlan): boolean {
  return (
    !plan.routes &&
    plan.containers.length === 0 &&
    plan.networks.length === 0 &&
    !plan.volumes.some((v) => v.action === 'remove') &&
    plan.images.length === 0 &&
    plan.state.action === 'none'
  );
}

/** The plan as the operator reads it, one line per kind of thing. */
export function formatRetirePlan(plan: RetirePlan, options: Pick<RetireOptions, 'volumes'> = {}): string[] {
  const list = (items: string[]) => (items.length > 4 ? `${items.slice(0, 4).join(', ')} and ${items.length - 4} more` : items.join(', '));
  const out = [
    `retire ${plan.product} (Compose project ${plan.project}${plan.sharedWith.length ? `, shared with ${plan.sharedWith.join(', ')}` : ''}):`,
  ];
  const row = (what: string, text: string) => out.push(`  ${what.padEnd(11)} ${text}`);
  if (plan.routes)
    row(
      'routes',
      `${plan.routes.file} (${plan.routes.hosts.join(', ') || 'no host'}): removed first, then ${plan.routes.edge ? `the edge ${plan.routes.edge} reloaded` : 'no edge reload (the edge is not running)'}`,
    );
  else row('routes', 'none on the shared edge');
  row(
    'containers',
    plan.containers.length
      ? `${list(plan.containers.map((c) => `${c.name} (${c.service || '?'}, ${c.state})`))}: stopped, each with its grace period, and removed`
      : 'none',
  );
  if (plan.sharedWith.length) row('networks', `kept: the project is shared with ${plan.sharedWith.join(', ')}`);
  else row('networks', plan.networks.length ? `${list(plan.networks)}: removed` : 'none');
  const kept = plan.volumes.filter((v) => v.action === 'keep').map((v) => v.name);
  const gone = plan.volumes.filter((v) => v.action === 'remove').map((v) => v.name);
  if (plan.sharedWith.length) row('volumes', `kept: the project is shared with ${plan.sharedWith.join(', ')}`);
  else if (plan.volumes.length === 0) row('volumes', options.volumes ? 'none (anonymous ones go with the containers)' : 'none');
  else {
    if (kept.length) row('volumes', `${list(kept)}: kept, with their data (--volumes removes them)`);
    if (gone.length) row('volumes', `${list(gone)}: REMOVED with their data (--volumes)`);
  }
  if (plan.imagesUnknown) row('images', `left alone: ${plan.imagesUnknown}`);
  else
    row('images', `${plan.images.length ? `${list(plan.images)}: removed` : 'none local'} (repositories ${plan.repositories.join(', ')})`);
  for (const k of plan.imagesKept) row('', `${k.ref}: kept, ${k.why}`);
  const s = plan.state;
  if (s.action === 'none') row('ledger', 'none');
  else if (s.action === 'keep-ledger')
    row('ledger', `${s.ledger} (${s.releases} records): kept (--keep-ledger); its other state moved to ${s.archive}`);
  else row('ledger', `${s.ledger} (${s.releases} records) and the rest of ${s.dir}: archived to ${s.archive}`);
  row('left alone', `${plan.leftAlone.join(' and ')}: delete them yourself, then npm run shims`);
  return out;
}
