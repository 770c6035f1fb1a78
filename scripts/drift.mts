#!/usr/bin/env node
// `npm run drift [root]`: fails (exit 1) when the generated shims, entry scripts or root symlinks
// differ from what `npm run shims` would write, or when a product file holds logic.
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { helpAsked, main, parse, scriptArgs } from '../lib/core/cli.mts';
import { checkoutProducts, EDGE_FILE } from '../lib/config/load.mts';
import { checkDrift, formatDrift } from '../lib/dev/drift.mts';
import { isGeneratedPath, SHIM_DIRS, type ShimFile, type ShimTree } from '../lib/dev/shims.mts';

const USAGE = `usage: npm run drift [-- <berth root>]

Regenerates the shims in memory and compares them with shims/, scripts/deploy-<product>.mts and
./deploy-*.sh; checks that products/*.mts hold data only. Exit 1 with a diff and the fix on drift.
The root defaults to $BERTH_ROOT, then to this checkout.`;

function readEntry(path: string): ShimFile {
  const stat = lstatSync(path);
  if (stat.isSymbolicLink()) return { kind: 'symlink', target: readlinkSync(path) };
  // A directory where a file belongs still counts as drift: it can never equal generated text.
  const content = stat.isFile() ? readFileSync(path, 'utf8') : '';
  return { kind: 'file', content, executable: (stat.mode & 0o111) !== 0 };
}

const argv = scriptArgs(import.meta.url);
await main(argv, async (ui) => {
  const { values, positionals } = parse(argv, {}, USAGE);
  if (helpAsked(values, USAGE)) return 0;
  const { root, settings, names } = checkoutProducts(positionals[0]);
  const products = new Map(names.map((name) => [name, readFileSync(join(settings.productsDir, `${name}.mts`), 'utf8')]));

  const files: ShimTree = new Map();
  for (const dir of SHIM_DIRS) {
    if (!existsSync(join(root, dir))) continue;
    for (const name of readdirSync(join(root, dir)).sort()) {
      const path = dir === '.' ? name : `${dir}/${name}`;
      if (isGeneratedPath(path)) files.set(path, readEntry(join(root, path)));
    }
  }

  const edgeFile = join(settings.productsDir, EDGE_FILE);
  const edge = existsSync(edgeFile) ? readFileSync(edgeFile, 'utf8') : undefined;
  const report = checkDrift({ products, files, edge });
  if (report.ok) {
    ui.info(formatDrift(report));
    return 0;
  }
  process.stderr.write(`${formatDrift(report)}\n`);
  return 1;
});
