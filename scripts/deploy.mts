#!/usr/bin/env node
import { main } from '../lib/cli.mts';
import { deployCli } from '../lib/entries/deploy.mts';

await main(process.argv.slice(2), (ui) => deployCli(process.argv.slice(2), ui));
