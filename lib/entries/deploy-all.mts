// `deploy-all`: every product in turn. One product failing never stops the others; the exit
// code says whether all went well and the summary says which did not.
import { parse } from '../cli.mts';
import { importProduct, listProducts, loadSettings } from '../config/load.mts';
import type { ProductDef } from '../config/types.mts';
import type { DeployResult } from '../deploy.mts';
import { BerthError, UsageError } from '../errors.mts';
import type { Ui } from '../ui.mts';
import { deployOne } from './deploy.mts';

export const DEPLOY_ALL_USAGE = `usage: npx zx scripts/deploy-all.mts [options]

Deploys every product (products/*.mts, except those with deployAll: false) in turn, each at the
HEAD of its repo. A product that fails does not stop the others.

options:
  --products a,b   only these products
  --wait           wait for other deploys' locks instead of failing
  --dry-run        print each plan and the exact commands; change nothing
  --json           print the results as JSON on stdout
  --verbose, -v    show every command
  --help, -h       this text`;

export async function deployAllCli(argv: string[], ui: Ui): Promise<number> {
  const { values, positionals } = parse(argv, { products: { type: 'string' }, wait: { type: 'boolean' } }, DEPLOY_ALL_USAGE);
  if (values.help) {
    process.stderr.write(`${DEPLOY_ALL_USAGE}\n`);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`, { fix: 'use --products a,b to choose products' });
  const settings = loadSettings();
  const known = listProducts(settings);
  let names = values.products?.split(',').filter(Boolean);
  if (names) {
    const unknown = names.filter((n) => !known.includes(n));
    if (unknown.length) throw new UsageError(`unknown product ${unknown.join(', ')}`, { fix: `use ${known.join(', ')}` });
  } else {
    names = [];
    for (const name of known) {
      const { value } = await importProduct(name, settings);
      if ((value as ProductDef | undefined)?.deployAll !== false) names.push(name);
    }
  }
  const results: DeployResult[] = [];
  for (const product of names) {
    try {
      results.push(await deployOne({ product, options: { dryRun: values['dry-run'], wait: values.wait } }, ui, settings));
    } catch (error) {
      const message = error instanceof BerthError ? error.line : String(error);
      ui.error(`${product}: ${message}`);
      results.push({ product, tag: '', result: 'failed', changed: [], plan: {}, durationsMs: {}, error: message });
    }
  }
  if (values.json) ui.json(results);
  const width = Math.max(7, ...results.map((r) => r.product.length));
  ui.info(`${'product'.padEnd(width)}  result   changed`);
  for (const r of results) ui.info(`${r.product.padEnd(width)}  ${r.result.padEnd(7)}  ${r.changed.join(',') || '-'}${r.error ? `  (${r.error})` : ''}`);
  return results.some((r) => r.result === 'failed') ? 1 : 0;
}
