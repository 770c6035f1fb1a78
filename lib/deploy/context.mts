// Facts pass between steps through this object, never through module globals.
import type { ComposeFlavour, ComposeProject } from '../commands/compose.mts';
import type { ComposeTopLevel } from './replica.mts';
import type { Product, Settings } from '../config/load.mts';
import type { ContainerState } from '../engine/engine.mts';
import type { PipelineContext } from '../core/pipeline.mts';
import type { Runner } from '../core/runner.mts';
import type { ReleaseKind, ServiceImage } from '../releases/ledger.mts';
import type { Lock } from '../releases/lock.mts';
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
}

export type ServiceAction = 'replace' | 'start' | 'keep';

/** start-first: the new container runs beside the old until it is healthy (and switched to).
 *  stop-first: the old one goes first (fixed host port, container_name, stateful, or asked for). */
export type Strategy = 'start-first' | 'stop-first';

export interface ServicePlan {
  action: ServiceAction;
  reason: string;
  /** Replace even if the running container already has the target image (its config changed, or --all). */
  force?: boolean;
}

export interface DeployContext extends PipelineContext {
  product: Product;
  settings: Settings;
  runner: Runner;
  ui: Ui;
  options: DeployOptions;
  flavour?: ComposeFlavour;
  project?: ComposeProject;
  /** Environment every compose command of this deploy gets: IMAGE_TAG and REGISTRY. */
  composeEnv: Record<string, string>;
  /** Services this deploy may touch, before comparing images. */
  targets: string[];
  plan: Record<string, ServicePlan>;
  before: Record<string, ContainerState[]>;
  after: Record<string, ContainerState[]>;
  images: Record<string, ServiceImage>;
  lock?: Lock;
  /** The compose files' resolved view of each service (from `config` in preflight). */
  composeServices: Record<string, ComposeServiceView>;
  /** The same view's top-level networks and volumes: how service keys map to real names. */
  composeTop: ComposeTopLevel;
  /** How each replaced service is replaced. */
  strategy: Record<string, Strategy>;
  /** The running proxy (Caddy) container, when the product has one. */
  proxy?: ContainerState;
  /** Upstream addresses per service before this deploy switched them: what a failure restores. */
  upstreamsBefore: Record<string, string[]>;
  /** Services whose upstreams point at the new containers now. */
  switched: string[];
  /** Every container id of the product just before `up`: whatever is not in it is new. */
  existingIds: string[];
  /** New containers per service, once healthy. */
  fresh: Record<string, ContainerState[]>;
}

/** A resolved service: the keys berth reads by name, and everything else `config` printed. */
export interface ComposeServiceView {
  image?: string;
  build?: unknown;
  container_name?: string;
  ports?: unknown[];
  [key: string]: unknown;
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
