#!/usr/bin/env node
import { main, scriptArgs } from '../lib/core/cli.mts';
import { deployAllCli } from '../lib/entries/deploy-all.mts';

const argv = scriptArgs(import.meta.url);
await main(argv, (ui) => deployAllCli(argv, ui));
