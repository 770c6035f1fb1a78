#!/usr/bin/env node
import { main, scriptArgs } from '../lib/core/cli.mts';
import { deployCli } from '../lib/entries/deploy.mts';

const argv = scriptArgs(import.meta.url);
await main(argv, (ui) => deployCli(argv, ui));
