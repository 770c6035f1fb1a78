#!/usr/bin/env node
// deploy-all with one changed service among five products, side by side in one run with:
//   single: `scripts/deploy.mts <product>` of the product that changed (the least work possible);
//   naive:  `docker-compose pull && docker-compose up -d` over all five, what deploy-all.sh did;
//   idle:   deploy-all when nothing changed at all.
// Every number is the wall time of the real CLI as an operator runs it (a node process each).
// Each run commits a change to one service's build path and pushes its new image (the other
// service of that product, and every other product, is only retagged, as CI does), so all three
// really have something to deploy. The cost per unchanged product is measured two ways: the
// difference between deploy-all and the single deploy spread over the four unchanged products,
// and the plan time deploy-all itself logs for each settled product. BENCH_RUNS runs (default 3).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { composeDown } from '../../lib/commands/compose.mts';
import { checkEngine } from '../../lib/engine/engine.mts';
import { detectCompose } from '../../lib/engine/compose.mts';
import { startLocalRegistry, type LocalRegistry } from '../../lib/dev/local-registry.mts';
import { readDeployLog } from '../../lib/report/metrics.mts';
import { createRunner } from '../../lib/core/runner.mts';
import { cleanupPrefix } from '../../test/rig/cleanup.mts';
import { makeFixtureProduct, type FixtureProduct } from '../../test/rig/fixture-product.mts';
import { makeProductsDir } from '../../test/rig/product.mts';
import { teardownOnExit } from './support/teardown.mts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const PRODUCTS = 5;
const SERVICES = ['web', 'api'];
const HEALTH = `health: { path: '/healthz', port: 8080, timeoutSeconds: 20 }`;
const root = fileURLToPath(new URL('../../', import.meta.url));
const runner = createRunner();
await checkEngine(runner);
const flavour = await detectCompose(runner);

const prefix = `berthbench-${randomBytes(3).toString('hex')}`;
const products: FixtureProduct[] = [];
const owned: { stateDir?: string; productsDir?: Awaited<ReturnType<typeof makeProductsDir>>; registry?: LocalRegistry } = {};
const teardown = teardownOnExit(`deploy-all bench ${prefix}`, async () => {
  for (const product of products) {
    const head = await runner.probe(['git', '-C', product.repo.dir, 'rev-parse', 'HEAD']);
    await runner.probe(composeDown(project(product)), { env: { IMAGE_TAG: head.stdout.trim(), REGISTRY: owned.registry?.address ?? '' } });
    await product.remove();
  }
  await cleanupPrefix(prefix, runner);
  await owned.registry?.stop();
  await owned.productsDir?.remove();
  if (owned.stateDir) await rm(owned.stateDir, { recursive: true, force: true });
});
const stateDir = (owned.stateDir = await mkdtemp(join(tmpdir(), `${prefix}-state-`)));
const productsDir = (owned.productsDir = await makeProductsDir());
const registry = (owned.registry = await startLocalRegistry(runner));
const env = {
  BERTH_PRODUCTS_DIR: productsDir.dir,
  BERTH_STATE_DIR: stateDir,
  BERTH_REGISTRY: registry.address,
  BERTH_WHO: 'bench',
  NO_COLOR: '1',
};

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};
const ms = (x: number) => `${Math.round(x)} ms`.padStart(8);

async function timed(argv: string[], extraEnv: Record<string, string> = {}): Promise<number> {
  const started = performance.now();
  const result = await runner.probe(argv, { env: { ...env, ...extraEnv }, cwd: root });
  if (result.exitCode !== 0) throw new Error(`${argv.join(' ')} exited ${result.exitCode}:\n${result.stderr}`);
  return performance.now() - started;
}

const berth = (script: string, args: string[]) => timed([process.execPath, join(root, 'scripts', `${script}.mts`), ...args]);

/** What CI does on a commit: every service tagged with the SHA; a new image only for `changed`. */
async function release(
  product: FixtureProduct,
  files: Record<string, string>,
  changed: string | undefined,
  version: string,
): Promise<string> {
  const sha = Object.keys(files).length ? await product.repo.commit(files) : product.repo.sha;
  for (const service of SERVICES) {
    if (service === changed || !Object.keys(files).length) await product.pushApp(service, sha, { version: `${version}-${service}` });
    else await product.retag(service, 'ci-latest', sha);
    await runner.run(['docker', 'tag', `${product.repository(service)}:${sha}`, `${product.repository(service)}:ci-latest`]);
    // Only the registry keeps release tags, as on the VM: each deploy really pulls.
    await runner.run(['docker', 'image', 'rm', `${product.repository(service)}:${sha}`]);
  }
  return sha;
}

let change = 0;
const changeOne = () => {
  change++;
  return release(products[0] as FixtureProduct, { 'web/page.txt': `change ${change}\n` }, 'web', `v${change}`);
};

function project(product: FixtureProduct) {
  return { flavour, name: product.name, directory: product.repo.dir, files: [join(product.repo.dir, 'compose.yaml')] };
}

async function naiveLoop(): Promise<number> {
  const started = performance.now();
  for (const product of products) {
    const head = await runner.read(['git', '-C', product.repo.dir, 'rev-parse', 'HEAD']);
    const composeEnv = { IMAGE_TAG: head, REGISTRY: registry.address };
    const base = [
      ...flavour.bin,
      '--project-name',
      product.name,
      '--project-directory',
      product.repo.dir,
      '-f',
      join(product.repo.dir, 'compose.yaml'),
    ];
    await timed([...base, 'pull', '--quiet'], composeEnv);
    await timed([...base, 'up', '-d'], composeEnv);
  }
  return performance.now() - started;
}

try {
  for (let i = 0; i < PRODUCTS; i++) {
    const product = await makeFixtureProduct({
      prefix: `${prefix}-p${i}`,
      registry: registry.address,
      productsDir: productsDir.dir,
      stateDir,
      services: Object.fromEntries(SERVICES.map((s) => [s, { product: `${HEALTH}, build: { context: '${s}' }` }])),
      files: Object.fromEntries(SERVICES.map((s) => [`${s}/page.txt`, `${s} 0\n`])),
    });
    products.push(product);
    await release(product, {}, undefined, `p${i}`);
  }
  await berth('deploy-all', []);

  const single: number[] = [];
  const all: number[] = [];
  const naive: number[] = [];
  const idle: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    await changeOne();
    single.push(await berth('deploy', [products[0]?.name as string]));
    await changeOne();
    all.push(await berth('deploy-all', []));
    idle.push(await berth('deploy-all', []));
    await changeOne();
    naive.push(await naiveLoop());
    // Bring the ledger back in line with what runs (the naive loop bypassed it) before the next run.
    await berth('deploy-all', []);
  }
  const log = readDeployLog(join(stateDir, 'deploys.jsonl'));
  const planMs = log
    .filter((r) => r.command === 'deploy-all' && r.result === 'unchanged' && r.durationsMs.plan !== undefined)
    .map((r) => r.durationsMs.plan as number);

  const s = median(single);
  const a = median(all);
  const n = median(naive);
  const perUnchanged = (a - s) / (PRODUCTS - 1);
  // Each run times single and deploy-all back to back: their difference is less exposed to the
  // machine's load drifting between runs than the difference of two medians.
  const paired = median(all.map((x, i) => (x - (single[i] as number)) / (PRODUCTS - 1)));
  console.log(
    `deploy-all, ${PRODUCTS} products x ${SERVICES.length} services, one service changed; compose ${flavour.name} ${flavour.version}; medians of ${RUNS} runs`,
  );
  console.log(`  single-product deploy of the change   ${ms(s)}   (${single.map(Math.round).join(', ')})`);
  console.log(`  deploy-all                            ${ms(a)}   (${all.map(Math.round).join(', ')})`);
  console.log(`  naive pull && up -d over all five     ${ms(n)}   (${naive.map(Math.round).join(', ')})`);
  console.log(`  deploy-all with nothing changed       ${ms(median(idle))}   (${idle.map(Math.round).join(', ')})`);
  console.log(`  deploy-all / single deploy            ${(a / s).toFixed(2)}x   (target <= 1.3x)`);
  console.log(`  deploy-all / naive loop               ${(a / n).toFixed(2)}x`);
  console.log(
    `  cost per unchanged product            ${ms(perUnchanged)}   ((deploy-all - single) / ${PRODUCTS - 1} of the medians; target <= 300 ms)`,
  );
  console.log(`                                        ${ms(paired)}   (median of the same, run by run)`);
  console.log(
    `  plan time of a settled product        ${ms(median(planMs))}   (median of ${planMs.length} logged by deploy-all; run side by side)`,
  );
} finally {
  await teardown.run();
}
