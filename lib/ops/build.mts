// `build <product>`: for CI and builder machines, never the VM. Reads the flags into the build's
// options, loads the product, makes sure its secrets never reach a log, and runs the build steps.
import { availableParallelism } from 'node:os';
import type { Settings } from '../config/load.mts';
import { loadProduct } from '../config/load.mts';
import type { CacheMode } from '../build/bake.mts';
import { buildProduct } from '../build/build-product.mts';
import { createBuildContext, type BuildOptions } from '../build/context.mts';
import type { BuildResult } from '../build/result.mts';
import { integerFlag, splitList } from '../core/cli.mts';
import { UsageError } from '../core/errors.mts';
import { createRunner } from '../core/runner.mts';
import type { Ui } from '../core/ui.mts';

/** The build command's flags as parsed. */
export interface BuildFlagValues {
  push?: boolean;
  only?: string;
  'allow-dirty'?: boolean;
  'build-arg'?: string[];
  rebuild?: boolean;
  cache?: string;
  parallel?: string;
  'dry-run'?: boolean;
}

export function parseBuildArgs(values: string[] | undefined): Record<string, string> {
  const args: Record<string, string> = {};
  for (const value of values ?? []) {
    const eq = value.indexOf('=');
    if (eq <= 0) throw new UsageError(`--build-arg '${value}' is not KEY=VALUE`, { fix: 'pass --build-arg NAME=value' });
    args[value.slice(0, eq)] = value.slice(eq + 1);
  }
  return args;
}

export function parseCache(value: string | undefined): CacheMode {
  const mode = value || 'none';
  if (mode !== 'registry' && mode !== 'none')
    throw new UsageError(`cache mode '${mode}' is unknown`, { fix: 'use --cache registry or --cache none (or BERTH_BUILD_CACHE)' });
  return mode;
}

export function parseParallel(value: string | undefined): number {
  return integerFlag(value, '--parallel', { min: 1, max: 64, example: 2 }) ?? Math.max(1, Math.min(4, availableParallelism()));
}

/** The build's options from its flags, each refused before anything runs when it cannot be read. */
export function buildOptions(values: BuildFlagValues, settings: Settings): BuildOptions {
  return {
    push: values.push ?? false,
    only: splitList(values.only),
    allowDirty: values['allow-dirty'],
    buildArgs: parseBuildArgs(values['build-arg']),
    rebuild: values.rebuild,
    cache: parseCache(values.cache ?? settings.buildCache),
    parallel: parseParallel(values.parallel),
    dryRun: values['dry-run'],
  };
}

export async function buildRelease(name: string, options: BuildOptions, settings: Settings, ui: Ui): Promise<BuildResult> {
  const product = await loadProduct(name, settings);
  const runner = createRunner({ dryRun: options.dryRun, ui });
  // Secrets are redacted by their variable's name (…TOKEN…); the ones a product names are redacted whatever they are called.
  for (const service of Object.values(product.services)) {
    for (const variable of Object.values(service.build?.secrets ?? {})) runner.addSecret(settings.env[variable]);
  }
  runner.addSecret(settings.registryToken);
  return buildProduct(createBuildContext(product, settings, runner, ui, options));
}
