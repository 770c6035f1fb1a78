// The README's main command: a local registry, the example product built from scratch and
// pushed as v1 and v2, deployed, upgraded under load, taken back to v1, then cleaned up.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { composeDown } from '../commands/compose.mts';
import { dockerBuild, dockerPush, dockerRmi, dockerTag } from '../commands/docker.mts';
import { BERTH_ROOT, loadProduct, loadSettings } from '../config/load.mts';
import { composeEnvFile } from '../deploy/compose-env-file.mts';
import { createDeployContext, deployProduct, succeeded, type DeployResult } from '../deploy/deploy-product.mts';
import { REVISION_LABEL } from '../engine/images.mts';
import { detectCompose } from '../engine/compose.mts';
import { startLoad, type LoadReport } from './load-loop.mts';
import { rollbackProduct } from '../ops/rollback.mts';
import { freePort, startLocalRegistry } from './local-registry.mts';
import type { Runner } from '../core/runner.mts';
import { buildBusyboxImage, buildCaddyImage } from './scratch-images.mts';
import { formatSeconds, type Ui } from '../core/ui.mts';
import { errorMessage } from '../core/errors.mts';

const EXAMPLE_DIR = join(BERTH_ROOT, 'products', 'example');

/**
 * Builds and pushes the example's images for each version, as `berth build` would: BERTH_SHA and
 * the revision label name the version. web changes every version; the worker is built once, at
 * the first, and only re-tagged, as berth reuses an unchanged image (it keeps reporting the first).
 */
export async function pushExampleImages(runner: Runner, registry: string, versions: string[]): Promise<string[]> {
  const base = await buildBusyboxImage(runner, { tag: 'berth-demo/busybox:local', files: {} });
  const pushed: string[] = [];
  const caddy = `${registry}/berth-caddy:2`;
  await buildCaddyImage(runner, { tag: caddy });
  const release = (version: string) => ({
    buildArgs: { BASE: base.tag, BERTH_SHA: version },
    labels: { [REVISION_LABEL]: version },
  });
  const worker = `${registry}/example-worker:build`;
  await runner.run(dockerBuild({ context: join(EXAMPLE_DIR, 'worker'), tags: [worker], ...release(versions[0] ?? 'dev') }));
  for (const version of versions) {
    const web = `${registry}/example-web:${version}`;
    await runner.run(dockerBuild({ context: join(EXAMPLE_DIR, 'web'), tags: [web], ...release(version) }));
    await runner.run(dockerTag(worker, `${registry}/example-worker:${version}`));
    pushed.push(web, `${registry}/example-worker:${version}`);
  }
  pushed.push(caddy);
  for (const ref of pushed) await runner.run(dockerPush(ref));
  await runner.run(dockerRmi([worker]));
  return pushed;
}

export interface DemoOptions {
  keep?: boolean;
}

async function served(url: string): Promise<string> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return (await response.text()).trim();
  } catch (error) {
    return `(no answer: ${errorMessage(error)})`;
  }
}

export async function runDemo(runner: Runner, ui: Ui, options: DemoOptions = {}): Promise<void> {
  const timings: [string, number][] = [];
  const timed = async <T,>(label: string, work: () => Promise<T>): Promise<T> => {
    const handle = ui.step(label);
    const t0 = performance.now();
    try {
      const value = await work();
      handle.succeed();
      return value;
    } catch (error) {
      handle.fail(errorMessage(error));
      throw error;
    } finally {
      timings.push([label, performance.now() - t0]);
    }
  };

  const registry = await timed('start a local registry', () => startLocalRegistry(runner));
  const stateDir = mkdtempSync(join(tmpdir(), 'berth-demo-state-'));
  const port = await freePort();
  // Compose interpolates these from the environment of the commands berth runs.
  process.env.EXAMPLE_HTTP_PORT = String(port);
  const settings = loadSettings({ ...process.env, BERTH_REGISTRY: registry.address, BERTH_STATE_DIR: stateDir });
  const url = `http://127.0.0.1:${port}/version`;
  const product = await loadProduct('example', settings);
  // Each deploy writes the release into the checkout's .env (for a hand-run compose): the demo
  // leaves the file as it found it.
  const envFile = composeEnvFile(product);
  const envBefore = existsSync(envFile) ? readFileSync(envFile, 'utf8') : undefined;
  const pushedRefs: string[] = [];
  const deploy = (tag: string): Promise<DeployResult> =>
    deployProduct(createDeployContext(product, settings, runner, ui, { tag })).then(succeeded);
  try {
    pushedRefs.push(
      ...(await timed('build v1 and v2 from scratch and push them', () => pushExampleImages(runner, registry.address, ['v1', 'v2']))),
    );
    await timed('deploy v1', () => deploy('v1'));
    ui.info(`serving before the upgrade: ${await served(url)}`);

    const load = startLoad(url, { concurrency: 2, maxMs: 120_000 });
    let report: LoadReport;
    try {
      await timed('deploy v2 under load', () => deploy('v2'));
    } finally {
      report = await load.stop();
    }
    ui.info(`serving after the upgrade: ${await served(url)}`);
    ui.info(
      `during the upgrade: ${report.requests} requests, ${report.failed} failed (${report.retried} retried once after a reload closed an idle connection), longest gap ${report.longestGapMs} ms, versions seen ${JSON.stringify(report.bodies)}${report.errors.length ? `, errors: ${report.errors.join('; ')}` : ''}`,
    );

    // A rollback is a tag re-point to the recorded release and the same switch: no pull, no build.
    await timed('roll back to v1 (scripts/rollback.mts --previous)', () =>
      rollbackProduct(product, settings, runner, ui, { previous: true }),
    );
    ui.info(`serving after the rollback: ${await served(url)}`);
  } finally {
    ui.info('time per step:');
    for (const [label, ms] of timings) ui.info(`  ${label.padEnd(52)} ${formatSeconds(ms)}`);
    if (options.keep) {
      ui.info(`kept: registry ${registry.address}, example at ${url}, state in ${stateDir}`);
    } else {
      await timed('clean up', async () => {
        const flavour = await detectCompose(runner);
        await runner.probe(
          composeDown({
            flavour,
            name: product.projectName,
            directory: product.repoDir,
            files: product.composeFiles.map((f) => join(product.repoDir, f)),
          }),
          {
            env: { IMAGE_TAG: 'v1', REGISTRY: registry.address },
          },
        );
        await runner.probe(dockerRmi(pushedRefs));
        await registry.stop();
        rmSync(stateDir, { recursive: true, force: true });
        if (envBefore === undefined) rmSync(envFile, { force: true });
        else writeFileSync(envFile, envBefore);
      });
    }
  }
}
