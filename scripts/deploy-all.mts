#!/usr/bin/env node
// Deploys run at a lower CPU priority from their first instant (lib/core/priority.mts): the
// modules load only after it is lowered, and from berth's cache of their stripped text
// (lib/core/module-cache.mts).
import { lowerPriorityEarly } from '../lib/core/priority.mts';
import { cacheStrippedModules } from '../lib/core/module-cache.mts';

lowerPriorityEarly();
cacheStrippedModules();
const { main, scriptArgs } = await import('../lib/core/cli.mts');
const { deployAllCli } = await import('../lib/entries/deploy-all.mts');
const argv = scriptArgs(import.meta.url);
await main(argv, (ui) => deployAllCli(argv, ui));
