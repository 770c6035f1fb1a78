// `deploy <product>`: one product, one release, then the run's report (summary table, deploy log,
// textfile, webhook). deploy-all opens its products the same way.
import { loadProduct, type Product, type Settings } from '../config/load.mts';
import type { DeployOptions } from '../deploy/context.mts';
import { createDeployContext, deployProduct, type DeployResult } from '../deploy/deploy-product.mts';
import { createRunner, type Runner } from '../core/runner.mts';
import type { Ui } from '../core/ui.mts';
import { defaultRelease } from '../releases/branch-tip.mts';
import { finishRun } from '../report/finish.mts';
import { runMeta } from '../report/metrics.mts';

/** A product, loaded and validated, with its runner and the release to deploy (the tip of its
 *  deploy branch on its remote unless given: lib/releases/branch-tip.mts). */
export interface OpenRelease {
  product: Product;
  runner: Runner;
  tag: string;
}

export async function openRelease(
  name: string,
  settings: Settings,
  ui: Ui,
  options: { tag?: string; dryRun?: boolean; waitForImagesMs?: number },
): Promise<OpenRelease> {
  const product = await loadProduct(name, settings);
  const runner = createRunner({ dryRun: options.dryRun, ui });
  const tag = options.tag ?? (await defaultRelease(runner, product, ui, { waitForImagesMs: options.waitForImagesMs }));
  return { product, runner, tag };
}

export interface DeployRequest {
  product: string;
  options: Omit<DeployOptions, 'tag'> & { tag?: string; waitForImagesMs?: number };
}

/** Deploys one product and reports the run, failed or not; a failure is then rethrown. Bad input
 *  is refused before the first step (deployProduct throws): nothing was attempted, nothing to report. */
export async function deployOne(request: DeployRequest, settings: Settings, ui: Ui): Promise<DeployResult> {
  const meta = runMeta('deploy', request.options.dryRun);
  const { product, runner, tag } = await openRelease(request.product, settings, ui, request.options);
  const { outcome, error } = await deployProduct(createDeployContext(product, settings, runner, ui, { ...request.options, tag }));
  await finishRun([outcome], settings, meta, ui);
  if (error !== undefined) throw error;
  return outcome;
}
