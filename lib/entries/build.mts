// `build <product>`: flags -> product -> build steps. For CI and builder machines, never the VM.
import { availableParallelism } from 'node:os';
import { helpAsked, integerFlag, parse, splitList } from '../core/cli.mts';
import { loadProduct, loadSettings, type Settings } from '../config/load.mts';
import type { CacheMode } from '../build/bake.mts';
import { buildProduct, createBuildContext, summarize, type BuildResult } from '../build/steps.mts';
import { UsageError } from '../core/errors.mts';
import { createRunner } from '../core/runner.mts';
import type { Ui } from '../core/ui.mts';

export const BUILD_USAGE = `usage: npx zx scripts/build.mts <product> [options]

Builds the product's images (its build sections and the build: sections of its buildComposeFiles),
tags them :<commit sha> and :latest, and with --push pushes them. For CI or a builder machine:
the VM only pulls (deploy --tag <sha>).

options:
  --push             push to the registry (without it: build and tag locally only)
  --only a,b         only these services' images
  --allow-dirty      build uncommitted changes, tagged <sha>-dirty-<hash> (never :latest)
  --build-arg K=V    build argument for every image, over the product's (repeatable)
  --rebuild          build even images the registry already has for this release or sources
  --cache MODE       registry: cache-from/cache-to in the registry; none (default: BERTH_BUILD_CACHE or none)
  --parallel N       images built at once when buildx is missing (default: CPUs, at most 4)
  --dry-run          print the plan, the bake definition and the exact commands; build nothing
  --json             print the result as JSON on stdout
  --verbose, -v      show every command and its time
  --help, -h         this text

An image whose :<sha> is in the registry is not rebuilt; one whose sources (context, Dockerfile,
paths, args) equal those of :latest is tagged again without a build, so its digest stays the same.

environment: BERTH_REGISTRY, BERTH_REGISTRY_USER + BERTH_REGISTRY_TOKEN (docker login, token on
stdin), BERTH_BUILD_CACHE, BERTH_WORKSPACE, BERTH_PRODUCTS_DIR, and the variables the product's
build secrets name (e.g. GITEA_NPM_TOKEN). Compose interpolates the development view from the
environment too: offline, BASE_IMAGE=<local image> stands in for a base image from a hub.`;

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
  if (mode !== 'registry' && mode !== 'none') throw new UsageError(`cache mode '${mode}' is unknown`, { fix: 'use --cache registry or --cache none (or BERTH_BUILD_CACHE)' });
  return mode;
}

export function parseParallel(value: string | undefined): number {
  return integerFlag(value, '--parallel', { min: 1, max: 64, example: 2 }) ?? Math.max(1, Math.min(4, availableParallelism()));
}

export async function buildCli(argv: string[], ui: Ui, settings: Settings = loadSettings()): Promise<BuildResult | undefined> {
  const { values, positionals } = parse(argv, BUILD_FLAGS, BUILD_USAGE);
  if (helpAsked(values, BUILD_USAGE)) return undefined;
  if (positionals.length !== 1) throw new UsageError('build takes exactly one product', { fix: 'run npx zx scripts/build.mts <product> (see --help)' });
  const options = {
    push: values.push ?? false,
    only: splitList(values.only),
    allowDirty: values['allow-dirty'],
    buildArgs: parseBuildArgs(values['build-arg']),
    rebuild: values.rebuild,
    cache: parseCache(values.cache ?? settings.env.BERTH_BUILD_CACHE),
    parallel: parseParallel(values.parallel),
    dryRun: values['dry-run'],
  };
  const product = await loadProduct(positionals[0] as string, settings);
  const runner = createRunner({ dryRun: options.dryRun, ui });
  // Secrets are redacted by their variable's name (…TOKEN…); the ones a product names are redacted whatever they are called.
  for (const service of Object.values(product.services)) {
    for (const variable of Object.values(service.build?.secrets ?? {})) runner.addSecret(settings.env[variable]);
  }
  runner.addSecret(settings.env.BERTH_REGISTRY_TOKEN);
  const result = await buildProduct(createBuildContext(product, settings, runner, ui, options));
  if (values.json) ui.json(result);
  else ui.info(summarize(result));
  return result;
}
