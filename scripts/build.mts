#!/usr/bin/env node
import { main, scriptArgs } from '../lib/core/cli.mts';
import { buildCli } from '../lib/entries/build.mts';

const argv = scriptArgs(import.meta.url);
await main(argv, async (ui) => {
  await buildCli(argv, ui);
});
