#!/usr/bin/env node
import { main, scriptArgs } from '../lib/core/cli.mts';
import { statusCli } from '../lib/entries/status.mts';

const argv = scriptArgs(import.meta.url);
await main(argv, (ui) => statusCli(argv, ui));
