// `build <product>`: flags -> lib/ops/build.mts. For CI and builder machines, never the VM.
import { availableParallelism } from 'node:os';
import { helpAsked, integerFlag, parse, splitList } from '../core/cli.mts';
import { loadSettings, type Settings } from '../config/load.mts';
import type { CacheMode } from '../build/bake.mts';
import { summarize, type BuildResult } from '../build/result.mts';
import { UsageError } from '../core/errors.mts';
import type { Ui } from '../core/ui.mts';
import { buildRelease } from '../ops/build.mts';
import { BUILD_USAGE } from './usage.mts';

export const BUILD_FLAGS = {
  push: { type: 'boolean' },
  only: { type: 'string' },
  'allow-dirty': { type: 'boolean' },
  'build-arg': { type: 'string', multiple: true },
  rebuild: { type: 'boolean' },
  cache: { type: 'string' },
  parallel: { type: 'string' },
} as const;

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

export async function buildCli(argv: string[], ui: Ui, settings: Settings = loadSettings()): Promise<BuildResult | undefined> {
  const { values, positionals } = parse(argv, BUILD_FLAGS, BUILD_USAGE);
  if (helpAsked(values, BUILD_USAGE)) return undefined;
  if (positionals.length !== 1)
    throw new UsageError('build takes exactly one product', { fix: 'run npx zx scripts/build.mts <product> (see --help)' });
  const options = {
    push: values.push ?? false,
    only: splitList(values.only),
    allowDirty: values['allow-dirty'],
    buildArgs: parseBuildArgs(values['build-arg']),
    rebuild: values.rebuild,
    cache: parseCache(values.cache ?? settings.buildCache),
    parallel: parseParallel(values.parallel),
    dryRun: values['dry-run'],
  };
  const result = await buildRelease(positionals[0] as string, options, settings, ui);
  if (values.json) ui.json(result);
  else ui.result(summarize(result));
  return result;
}
