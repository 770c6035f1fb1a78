// What a build carries from step to step: the inputs (set before the first step), the release and
// the images planned, each image's state as the registry and the builder decide it.
import type { ComposeFlavour } from '../commands/compose.mts';
import type { Product, Settings } from '../config/load.mts';
import type { PipelineContext } from '../core/pipeline.mts';
import type { Runner } from '../core/runner.mts';
import type { Ui } from '../core/ui.mts';
import type { RegistryClient, RegistryCredentials } from '../registry/client.mts';
import type { Manifest } from '../registry/manifests.mts';
import type { HookRecord } from '../releases/ledger.mts';
import type { CacheMode } from './bake.mts';
import type { Builder, BuilderKind } from './builder.mts';
import type { ImageBuild, Release, SourceParts } from './plan.mts';

export interface BuildOptions {
  /** Push to the registry; without it images are only built and tagged locally. */
  push: boolean;
  only?: string[];
  allowDirty?: boolean;
  /** --build-arg values, for every image. */
  buildArgs?: Record<string, string>;
  /** Build even what the registry already has. */
  rebuild?: boolean;
  cache: CacheMode;
  /** Images built at once by the `docker build` fallback (bake schedules its own). */
  parallel: number;
  dryRun?: boolean;
}

/** build: not in the registry; reuse: an image with the same source key is tagged again; present: the release is there. */
export type ImageAction = 'build' | 'reuse' | 'present';

export interface ImageState {
  action: ImageAction;
  reason: string;
  /** The source key and its parts; none for a dirty tree or sources git does not hold. */
  source?: SourceParts;
  reuse?: Manifest;
  /** Registry digest of <repository>:<release tag>, once known. */
  digest?: string;
  /** Compressed size of its layers in the registry, once pushed (verify). */
  sizeBytes?: number;
  /** What really built it, read from the build output where the fallback ran. */
  builtWith?: BuilderKind;
  ms?: number;
}

export interface BuildContext extends PipelineContext {
  product: Product;
  settings: Settings;
  runner: Runner;
  ui: Ui;
  options: BuildOptions;
  release?: Release;
  flavour?: ComposeFlavour;
  images: ImageBuild[];
  state: Record<string, ImageState>;
  builder?: Builder;
  credentials?: RegistryCredentials;
  registry?: RegistryClient;
  /** The docker clients to consider, first one first; default: every `docker` on PATH. */
  dockerClients?: string[];
  /** The product's beforeBuild hooks that ran, for the build's result. */
  hooks: HookRecord[];
}

export function createBuildContext(product: Product, settings: Settings, runner: Runner, ui: Ui, options: BuildOptions): BuildContext {
  return { product, settings, runner, ui, options, images: [], state: {}, timings: {}, hooks: [] };
}

/** The release the source step resolved; every later step needs it. */
export function releaseOf(ctx: BuildContext): Release {
  if (!ctx.release) throw new Error('the source step did not run');
  return ctx.release;
}

export function imagesWith(ctx: BuildContext, action: ImageAction): ImageBuild[] {
  return ctx.images.filter((image) => ctx.state[image.service]?.action === action);
}

/** <repository>:<tag> of one planned image. */
export function taggedRef(image: ImageBuild, tag: string): string {
  return `${image.repository}:${tag}`;
}
