// Facts pass between steps through this object, never through module globals.
import type { ComposeFlavour, ComposeProject } from './commands/compose.mts';
import type { Product, Settings } from './config/load.mts';
import type { ContainerState } from './engine.mts';
import type { PipelineContext } from './pipeline.mts';
import type { Runner } from './runner.mts';
import type { ReleaseKind, ServiceImage } from './state/ledger.mts';
import type { Lock } from './state/lock.mts';
import type { Ui } from './ui.mts';

export interface DeployOptions {
  tag: string;
  only?: string[];
  dryRun?: boolean;
  wait?: boolean;
  /** Also replace stateful services (databases, emulators): stop-first, recorded. */
  includeStateful?: boolean;
  kind?: ReleaseKind;
}

export type ServiceAction = 'replace' | 'start' | 'keep';

export interface ServicePlan {
  action: ServiceAction;
  reason: string;
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
