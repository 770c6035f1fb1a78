#!/usr/bin/env node
import { main } from '../lib/cli.mts';
import { deployAllCli } from '../lib/entries/deploy-all.mts';

await main(process.argv.slice(2), (ui) => deployAllCli(process.argv.slice(2), ui));
