#!/usr/bin/env node
// `npm run shims [root]`: writes the legacy entry points that lib/dev/shims.mts generates for every
// product (shims/*.sh, scripts/deploy-<product>.mts, ./deploy-*.sh) and removes stale ones.
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { helpAsked, main, parse, scriptArgs } from '../lib/core/cli.mts';
import { checkoutProducts } from '../lib/config/load.mts';
import { generateShims, isGeneratedPath, SHIM_DIRS } from '../lib/dev/shims.mts';

const USAGE = `usage: npm run shims [-- <berth root>]

Regenerates shims/, scripts/deploy-<product>.mts and the ./deploy-*.sh symlinks from products/*.mts.
The root defaults to $BERTH_ROOT, then to this checkout.`;

const argv = scriptArgs(import.meta.url);
await main(argv, async (ui) => {
  const { values, positionals } = parse(argv, {}, USAGE);
  if (helpAsked(values, USAGE)) return 0;
  const { root, names } = checkoutProducts(positionals[0]);
  const wanted = generateShims(names);

  const found = SHIM_DIRS.flatMap((dir) =>
    existsSync(join(root, dir)) ? readdirSync(join(root, dir)).map((name) => (dir === '.' ? name : `${dir}/${name}`)) : [],
  );
  const stale = found.filter((path) => isGeneratedPath(path) && !wanted.has(path));
  for (const path of stale) rmSync(join(root, path), { force: true, recursive: true });

  for (const [path, file] of wanted) {
    const target = join(root, path);
    mkdirSync(dirname(target), { recursive: true });
    // Removing first keeps writeFileSync from writing through an old symlink into its target.
    rmSync(target, { force: true });
    if (file.kind === 'symlink') {
      symlinkSync(file.target, target);
    } else {
      writeFileSync(target, file.content);
      chmodSync(target, file.executable ? 0o755 : 0o644);
    }
  }
  ui.info(`wrote ${wanted.size} files under ${root}${stale.length > 0 ? `; removed ${stale.join(', ')}` : ''}`);
  return 0;
});
