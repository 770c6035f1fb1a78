#!/usr/bin/env node
import { main, scriptArgs } from '../lib/core/cli.mts';
import { rollbackCli } from '../lib/entries/rollback.mts';

const argv = scriptArgs(import.meta.url);
await main(argv, (ui) => rollbackCli(argv, ui));
