// `build <product>`: flags -> lib/ops/build.mts. For CI and builder machines, never the VM.
import { helpAsked, parse } from '../core/cli.mts';
import { loadSettings, type Settings } from '../config/load.mts';
import { summarize, type BuildResult } from '../build/result.mts';
import { UsageError } from '../core/errors.mts';
import type { Ui } from '../core/ui.mts';
import { buildOptions, buildRelease } from '../ops/build.mts';
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

export async function buildCli(argv: string[], ui: Ui, settings: Settings = loadSettings()): Promise<BuildResult | undefined> {
  const { values, positionals } = parse(argv, BUILD_FLAGS, BUILD_USAGE);
  if (helpAsked(values, BUILD_USAGE)) return undefined;
  if (positionals.length !== 1)
    throw new UsageError('build takes exactly one product', { fix: 'run npx zx scripts/build.mts <product> (see --help)' });
  const result = await buildRelease(positionals[0] as string, buildOptions(values, settings), settings, ui);
  if (values.json) ui.json(result);
  else ui.result(summarize(result));
  return result;
}
