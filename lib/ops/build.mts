// `build <product>`: for CI and builder machines, never the VM. Loads the product, makes sure its
// secrets never reach a log, and runs the build steps.
import type { Settings } from '../config/load.mts';
import { loadProduct } from '../config/load.mts';
import { buildProduct } from '../build/build-product.mts';
import { createBuildContext, type BuildOptions } from '../build/context.mts';
import type { BuildResult } from '../build/result.mts';
import { createRunner } from '../core/runner.mts';
import type { Ui } from '../core/ui.mts';

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
