#!/usr/bin/env node
// `npm run bench [-- name…]`: runs every benchmark in scripts/bench/ (or the named ones) in turn.
// Each prints its own ratios against plain docker commands measured in the same run.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { main, scriptArgs } from '../lib/core/cli.mts';
import { createRunner } from '../lib/core/runner.mts';

const dir = fileURLToPath(new URL('./bench/', import.meta.url));
const argv = scriptArgs(import.meta.url);
await main(argv, async (ui) => {
  const all = readdirSync(dir)
    .filter((f) => f.endsWith('.mts'))
    .map((f) => f.slice(0, -4))
    .sort();
  const chosen = argv.filter((a) => !a.startsWith('-'));
  const unknown = chosen.filter((c) => !all.includes(c));
  if (unknown.length) {
    ui.error(`unknown benchmark ${unknown.join(', ')}: use ${all.join(', ')}`);
    return 2;
  }
  const runner = createRunner({ ui });
  let failed = 0;
  for (const name of chosen.length ? chosen : all) {
    const step = ui.step(`bench ${name}`);
    // Each benchmark is its own process: a crash or leak in one does not skew the next.
    const result = await runner.probe([process.execPath, `${dir}${name}.mts`], { env: { FORCE_COLOR: '0' } });
    process.stdout.write(result.stdout);
    if (result.exitCode === 0) step.succeed();
    else {
      failed++;
      step.fail(`exit ${result.exitCode}`);
      process.stderr.write(result.stderr);
    }
  }
  return failed ? 1 : 0;
});
