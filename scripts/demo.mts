#!/usr/bin/env node
import { helpAsked, main, parse, scriptArgs } from '../lib/core/cli.mts';
import { runDemo } from '../lib/dev/demo.mts';
import { createRunner } from '../lib/core/runner.mts';

const USAGE = `usage: npm run demo [-- --keep] [--verbose]

Starts a local registry, builds the example product from scratch, deploys v1, upgrades to v2
under load, rolls back to v1, prints what was served and the time of each step, and cleans up
(--keep leaves it all running).`;

const argv = scriptArgs(import.meta.url);
await main(argv, async (ui) => {
  const { values } = parse(argv, { keep: { type: 'boolean' } }, USAGE);
  if (helpAsked(values, USAGE)) return 0;
  await runDemo(createRunner({ ui }), ui, { keep: values.keep });
  return 0;
});
