#!/usr/bin/env node
import { main, scriptArgs } from '../lib/core/cli.mts';
import { retireCli } from '../lib/entries/retire.mts';

const argv = scriptArgs(import.meta.url);
await main(argv, (ui) => retireCli(argv, ui));
