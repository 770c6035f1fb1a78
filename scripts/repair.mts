#!/usr/bin/env node
import { main, scriptArgs } from '../lib/core/cli.mts';
import { repairCli } from '../lib/entries/repair.mts';

const argv = scriptArgs(import.meta.url);
await main(argv, (ui) => repairCli(argv, ui));
