#!/usr/bin/env node
import { main, scriptArgs } from '../lib/core/cli.mts';
import { reportCli } from '../lib/entries/report.mts';

const argv = scriptArgs(import.meta.url);
await main(argv, (ui) => reportCli(argv, ui));
