// `repair [product…]`: for each product (every one in the catalogue unless named), under its
// deploy lock, the comparison and the repair a deploy starts with (lib/deploy/repair.mts), with
// no release to deploy: the proxy back up with berth's environment, routes naming running
// containers, a killed deploy's orphans gone, and a release it had switched to checked and
// recorded. What berth cannot know again (a lost ledger) is said, not invented.
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { ComposeFlavour } from '../commands/compose.mts';
import { loadCatalogue, type CatalogueEntry } from '../config/catalogue.mts';
import type { Settings } from '../config/load.mts';
import { engineOf } from '../config/engine-choice.mts';
import { createDeployContext } from '../deploy/deploy-product.mts';
import { applyRepair, productDrift, type RepairOutcome } from '../deploy/repair.mts';
import { findProxy } from '../deploy/topology.mts';
import { checkEngine } from '../engine/engine.mts';
import { detectCompose } from '../engine/compose.mts';
import { errorLine, LockError } from '../core/errors.mts';
import type { Runner } from '../core/runner.mts';
import type { Ui } from '../core/ui.mts';
import { acquireLock, describeHolder } from '../releases/lock.mts';
import { currentRelease, readLedger } from '../releases/ledger.mts';

export interface RepairReport {
  host: string;
  time: string;
  products: (RepairOutcome & { skipped?: string })[];
}

async function repairOne(
  runner: Runner,
  settings: Settings,
  ui: Ui,
  entry: CatalogueEntry,
  flavour: ComposeFlavour,
  dryRun: boolean,
): Promise<RepairReport['products'][number]> {
  const product = entry.product;
  const empty = { product: entry.name, findings: [], did: [], problems: [] };
  if (!product) return { ...empty, skipped: entry.problem ?? 'cannot be loaded' };
  // Swarm replaces a dead task itself; what repair mends (containers, names, the proxy) is Compose's.
  if (engineOf(product, settings) === 'swarm') return { ...empty, skipped: 'runs on a swarm: Swarm restarts its own tasks' };
  const tag = currentRelease(readLedger(product.stateDir))?.tag ?? 'repair';
  const ctx = createDeployContext(product, settings, runner, ui, { tag, dryRun });
  ctx.found = {
    flavour,
    project: {
      flavour,
      name: product.projectName,
      directory: product.repoDir,
      files: product.composeFiles.map((f) => resolve(product.repoDir, f)),
    },
    compose: { services: {}, top: { networks: {}, volumes: {} } },
  };
  const proxy = await findProxy(ctx);
  if (proxy) ctx.found.proxy = proxy;
  let lock;
  try {
    lock = dryRun
      ? undefined
      : await acquireLock(
          product.stateDir,
          { tag, action: 'repair' },
          { wait: false, onStale: (h) => ui.warn(`took over a stale lock from ${describeHolder(h)}`) },
        );
  } catch (error) {
    if (error instanceof LockError) return { ...empty, problems: [`${errorLine(error)} (repair runs at the start of that deploy)`] };
    throw error;
  }
  try {
    const drift = await productDrift(ctx);
    try {
      return await applyRepair(ctx, drift, { record: true });
    } catch (error) {
      return { ...empty, findings: drift.findings.map((f) => f.line), problems: [ctx.runner.redact(errorLine(error))] };
    }
  } finally {
    lock?.release();
  }
}

export async function repairProducts(
  runner: Runner,
  settings: Settings,
  ui: Ui,
  names: string[] | undefined,
  options: { dryRun?: boolean } = {},
): Promise<RepairReport> {
  const catalogue = await loadCatalogue(settings, names);
  await checkEngine(runner);
  const flavour = await detectCompose(runner);
  const products: RepairReport['products'] = [];
  for (const entry of catalogue) {
    // Named products that cannot be loaded are a problem; in a sweep of all, one not here is not.
    const outcome = await repairOne(runner, settings, ui, entry, flavour, Boolean(options.dryRun));
    if (outcome.skipped && names?.includes(entry.name))
      outcome.problems.push(`${entry.name}: ${outcome.skipped}${entry.fix ? `: ${entry.fix}` : ''}`);
    products.push(outcome);
  }
  return { host: hostname(), time: new Date().toISOString(), products };
}

/** The human form: per product, what was wrong and what berth did. */
export function formatRepair(report: RepairReport): string[] {
  const lines: string[] = [];
  for (const p of report.products) {
    if (p.skipped) {
      lines.push(`${p.product}: skipped (${p.skipped.split('; ')[0]})`);
      continue;
    }
    if (p.findings.length === 0 && p.did.length === 0 && p.problems.length === 0) {
      lines.push(`${p.product}: nothing to repair`);
      continue;
    }
    lines.push(`${p.product}:`);
    for (const line of p.findings) lines.push(`  found: ${line}`);
    for (const line of p.did) lines.push(`  ${line.startsWith('would ') ? '' : 'did: '}${line}`);
    for (const line of p.problems) lines.push(`  not repaired: ${line}`);
  }
  return lines;
}

export function repairProblems(report: RepairReport): string[] {
  return report.products.flatMap((p) => p.problems.map((line) => (line.startsWith(`${p.product}`) ? line : `${p.product}: ${line}`)));
}
