#!/usr/bin/env node
import { main } from '../lib/cli.mts';
import { buildCli } from '../lib/entries/build.mts';

await main(process.argv.slice(2), async (ui) => {
  await buildCli(process.argv.slice(2), ui);
});
