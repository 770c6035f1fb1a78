#!/usr/bin/env node
import { main, scriptArgs } from '../lib/core/cli.mts';
import { hygieneCli } from '../lib/entries/hygiene.mts';

const argv = scriptArgs(import.meta.url);
await main(argv, (ui) => hygieneCli(argv, ui));
