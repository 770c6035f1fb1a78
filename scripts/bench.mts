#!/usr/bin/env node
// `npm run bench [-- name…]`: runs every benchmark in scripts/bench/ (or the named ones) in turn.
// Each prints its own ratios against plain docker commands measured in the same run.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { helpAsked, main, parse, scriptArgs } from '../lib/core/cli.mts';
import { UsageError } from '../lib/core/errors.mts';
import { interrupted } from '../lib/core/interrupt.mts';
import { createRunner } from '../lib/core/runner.mts';
import { childPids, TEARDOWN_SIGNALS } from './bench/support/teardown.mts';

const dir = fileURLToPath(new URL('./bench/', import.meta.url));
const all = readdirSync(dir)
  .filter((f) => f.endsWith('.mts'))
  .map((f) => f.slice(0, -4))
  .sort();

/** What each bench measures, for --help (README's Benchmarks table says more). */
const SUMMARIES: Record<string, string> = {
  build: 'build+push off the VM and pull+switch on it, against compose build && up -d on the VM',
  'deploy-all': 'deploy-all of five products with one changed service, against one deploy and a naive loop',
  edge: 'switches behind the shared edge Caddy under load: berth against plain up -d',
  rollback: 'rollback with the registry stopped, against docker run of a local image until healthy',
  switch: 'one HTTP service switched under load: plain up -d, scale-to-two, berth, and the floor',
  swarm:
    'one HTTP service switched under load on a one-node swarm: plain stack deploy, berth on Swarm (its own front-door switch), berth on Compose, and a task-address prototype',
};

const usage = () => `usage: npm run bench [-- name...]

Runs the benchmarks in scripts/bench/ (node scripts/bench.mts [name...] is the same), every one
when none is named, each in a process of its own, one after the other, on the engine DOCKER_HOST
names. They start containers, a local registry and sometimes a second engine, and keep both CPU
cores busy for minutes: they are not tests. Each names what it creates berthbench-<random> and
removes it however it ends (it returns, fails, or is stopped by Ctrl-C, kill or a closed pipe);
stopped, the bench running now cleans up and no other starts.

benchmarks:
${all.map((name) => `  ${name.padEnd(11)} ${SUMMARIES[name] ?? '(see its header comment)'}`).join('\n')}

environment: BENCH_RUNS (rounds or runs of each bench; see the bench's header), BENCH_RATE (edge, swarm),
BENCH_BUILD_MB and BENCH_BUILD_SECONDS (build), BERTH_COMPOSE=v1|v2

options:
  --verbose, -v  show every command this script runs
  --help, -h     this text`;

const argv = scriptArgs(import.meta.url);
await main(argv, async (ui) => {
  const { values, positionals } = parse(argv, {}, usage());
  if (helpAsked(values, usage())) return 0;
  const unsupported = (['dry-run', 'json'] as const).find((flag) => values[flag]);
  if (unsupported) throw new UsageError(`--${unsupported} does not apply to benchmarks`, { fix: 'see npm run bench -- --help' });
  const unknown = positionals.filter((c) => !all.includes(c));
  if (unknown.length) throw new UsageError(`unknown benchmark ${unknown.join(', ')}`, { fix: `use ${all.join(', ')}` });

  // The bench running now gets the signal too, and stops and cleans up; then none other starts.
  // (A Ctrl-C reaches it from the terminal already; a kill of this process alone does not.)
  let stop = false;
  const forward = (signal: NodeJS.Signals) => {
    stop = true;
    for (const pid of childPids()) {
      try {
        process.kill(pid, signal);
      } catch {
        // Gone already.
      }
    }
  };
  let outputGone = false;
  for (const signal of TEARDOWN_SIGNALS) process.on(signal, () => forward(signal === 'SIGPIPE' ? 'SIGTERM' : signal));
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    // Whoever read the results is gone (`| head`): stop the bench, let it clean up, run no more.
    outputGone = true;
    forward('SIGTERM');
  });

  const runner = createRunner({ ui });
  let failed = 0;
  for (const name of positionals.length ? positionals : all) {
    if (interrupted() || stop) break;
    const step = ui.step(`bench ${name}`);
    // Each benchmark is its own process: a crash or leak in one does not skew the next.
    const result = await runner.probe([process.execPath, `${dir}${name}.mts`], { env: { FORCE_COLOR: '0' } });
    if (!outputGone) process.stdout.write(result.stdout);
    if (result.exitCode === 0) step.succeed();
    else {
      failed++;
      step.fail(`exit ${result.exitCode}`);
      process.stderr.write(result.stderr);
    }
  }
  if (interrupted() || stop) return 130;
  return failed ? 1 : 0;
});
