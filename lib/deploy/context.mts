// What a deploy carries from step to step. Each part is written by one step and read by later
// ones: the inputs (set before the first step), what preflight found, the plan, what the running
// product looked like, the new containers, and the undo journal the switch steps append to.
import type { DoorService } from './swarm/door.mts';
import type { ComposeFlavour, ComposeProject } from '../commands/compose.mts';
import type { ComposeTopLevel } from './replica/translate.mts';
import type { RunningConfig } from './plan/running-config.mts';
import type { Product, Settings } from '../config/load.mts';
import type { ContainerState } from '../engine/engine.mts';
import type { PipelineContext } from '../core/pipeline.mts';
import type { Runner } from '../core/runner.mts';
import type { ReleaseKind } from '../releases/ledger.mts';
import type { Ui } from '../core/ui.mts';

export interface DeployOptions {
  tag: string;
  only?: string[];
  dryRun?: boolean;
  wait?: boolean;
  /** Also replace stateful services (databases, emulators): stop-first, recorded. */
  includeStateful?: boolean;
  kind?: ReleaseKind;
  /** The caller already put every image in place locally (rollback re-points tags to recorded
   *  image IDs): no registry check and no pull, which could move a tag off the recorded image. */
  offline?: boolean;
  /** Select every service whatever changed, and recreate even when its image is the same. */
  all?: boolean;
  /** Emergency path (registry down): build on the VM from buildComposeFiles instead of pulling. */
  buildOnVm?: boolean;
  /** Leave the checkout where it is: the release's images with the config the VM has now. */
  imageOnly?: boolean;
  /** Deploy tracked files with local edits as they are (recorded in the ledger). */
  allowDirty?: boolean;
  /** On a swarm: service -> the image reference (repo@sha256:...) to run instead of asking the
   *  registry for the tag's; a rollback passes the recorded release's. */
  digests?: Record<string, string>;
}

export type ServiceAction = 'replace' | 'start' | 'keep';

/** start-first: the new container runs beside the old until it is healthy (and switched to).
 *  stop-first: the old one goes first (fixed host port, container_name, stateful, or asked for). */
export type Strategy = 'start-first' | 'stop-first';

export interface ServicePlan {
  action: ServiceAction;
  reason: string;
  /** How a replaced service is replaced: decided with the action, while planning. */
  strategy?: Strategy;
  /** Replace even if the running container already has the target image (its config changed, or --all). */
  force?: boolean;
}

/** Per service: what happens to it and why. */
export type Plan = Record<string, ServicePlan>;

/** A resolved service: the keys berth reads by name, and everything else `config` printed. */
export interface ComposeServiceView {
  image?: string;
  build?: unknown;
  container_name?: string;
  ports?: unknown[];
  [key: string]: unknown;
}

/** What preflight found; later steps read it and never look again. */
export interface Preflight {
  flavour: ComposeFlavour;
  project: ComposeProject;
  /** The compose files' resolved view (`config`): each service, and the top-level networks and
   *  volumes that say how service keys map to real names. */
  compose: { services: Record<string, ComposeServiceView>; top: ComposeTopLevel; rendered?: string };
  /** The running proxy (Caddy) container, when the product switches traffic through one. The
   *  switch step sets it when it had to start the proxy itself. */
  proxy?: ContainerState;
}

/** A routed name handed to a new container (handover.mts): who had it, under which names. */
export interface Handover {
  name: string;
  /** The new container and the name it had before it took the routed one. */
  fresh: { id: string; name: string };
  /** The container that held the name, and the Compose name it went back to. */
  holder?: { id: string; name: string };
}

/** What the switch steps did, in order: all that undo reads. */
export interface UndoJournal {
  /** Set by `up` before it starts anything: every container id of the product (whatever is not
   *  in it is new) and each replaced service's strategy. */
  started?: { existingIds: string[]; replaced: Record<string, Strategy> };
  /** Services whose upstreams point at the new containers now, with what they pointed at before. */
  switched: { service: string; before: string[]; handover?: Handover }[];
  /** The checkout step moved the product's checkout from one commit to another. */
  checkedOut?: { from?: string; to: string };
  /** On a swarm: services whose failed update Swarm rolled back itself (the previous spec runs). */
  swarmRolledBack?: string[];
  /** On a swarm: services whose update to this release Swarm completed (they run it now). */
  swarmUpdated?: string[];
  /** On a swarm: updated services undo could not put back, so they still run the failed release;
   *  why (one line), and the release it tried. The deploy's error then says so. */
  swarmNotRestored?: { services: string[]; to?: string; why: string };
}

/** What a deploy to a swarm learns on the way (lib/deploy/steps/swarm.mts). */
export interface SwarmDeploy {
  /** Each stack service's spec before the deploy, as JSON; absent when new. A stack deploy bumps
   *  every service's version, changed or not: the spec itself says whether it changed. */
  before: Record<string, { spec: string; image?: string }>;
  /** Service -> the image its new spec runs, pinned by digest. */
  images: Record<string, string>;
  /** The stack file, once rendered. */
  text?: string;
  file?: string;
  /** Services the stack deploy gave a new spec (new ones included). */
  changed?: string[];
  /** When the stack deploy began (ms since the epoch). */
  startedAt?: number;
  /** The services berth switches at the front door, with their new release's alias (swarm/door.mts). */
  door?: DoorService[];
  /** Door services whose upstream file pins the old tasks until the new ones run. */
  pinned?: string[];
  /** Door services switched to their new tasks' addresses, named by their alias when the follow ends. */
  settling?: string[];
  /** Smoke checks started during the follow, once the front door named the new release: their
   *  verdict (an error, or undefined when they passed), and how to end their monitor window. */
  smoke?: { verdict: Promise<unknown>; stop(): void; failed?: boolean };
}

export interface DeployContext extends PipelineContext {
  product: Product;
  settings: Settings;
  runner: Runner;
  ui: Ui;
  options: DeployOptions;
  /** Environment every compose command of this deploy gets: IMAGE_TAG and REGISTRY. */
  composeEnv: Record<string, string>;
  found?: Preflight;
  /** Where this release's config came from (the checkout step): a commit, and any local edits deployed. */
  release?: { config?: string; dirty?: string[]; committedAt?: string };
  plan: Plan;
  /** Services still to replace after planning so far (before the image comparison): a view of the plan. */
  /** Whether each targeted service's containers run the target's config (the changes step). */
  running?: Record<string, RunningConfig>;
  readonly targets: string[];
  /** The running containers of each service before this deploy (from `select`). */
  before: Record<string, ContainerState[]>;
  /** New containers per service, once healthy (from the health step). */
  fresh: Record<string, ContainerState[]>;
  journal: UndoJournal;
  swarm?: SwarmDeploy;
}

/** What preflight found, for a step that cannot run without it. */
export function found(ctx: Pick<DeployContext, 'found'>): Preflight {
  if (!ctx.found) throw new Error('preflight did not run');
  return ctx.found;
}

export function imageRef(ctx: Pick<DeployContext, 'product' | 'options'>, service: string): string {
  const svc = ctx.product.services[service];
  if (!svc) throw new Error(`no service ${service}`);
  return `${svc.repository}:${ctx.options.tag}`;
}

export function servicesWith(ctx: Pick<DeployContext, 'plan'>, ...actions: ServiceAction[]): string[] {
  return Object.entries(ctx.plan)
    .filter(([, p]) => actions.includes(p.action))
    .map(([s]) => s);
}

/** Services replaced with the given strategy. */
export function replacedWith(ctx: Pick<DeployContext, 'plan'>, strategy: Strategy): string[] {
  return Object.entries(ctx.plan)
    .filter(([, p]) => p.action === 'replace' && p.strategy === strategy)
    .map(([s]) => s);
}
