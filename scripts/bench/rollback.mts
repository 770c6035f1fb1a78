#!/usr/bin/env node
// Rollback wall time next to its floor, measured side by side in one run: the floor is starting a
// container from a local image until it is ready (Docker says healthy; or its HTTP health path
// answers, which is what berth probes). A rollback of one service between two recorded releases,
// through the real CLI as an operator types it, with the registry stopped so nothing can be pulled.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { dockerPush, dockerTag } from '../../lib/commands/docker.mts';
import { checkEngine } from '../../lib/engine/engine.mts';
import { startLocalRegistry, type LocalRegistry } from '../../lib/dev/local-registry.mts';
import { createRunner } from '../../lib/core/runner.mts';
import { buildHttpAppImage } from '../../lib/dev/scratch-images.mts';
import { cleanupPrefix } from '../../test/rig/cleanup.mts';
import { teardownOnExit } from './support/teardown.mts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const root = fileURLToPath(new URL('../../', import.meta.url));
const runner = createRunner();
await checkEngine(runner);

const prefix = `berthbench-${randomBytes(3).toString('hex')}`;
const owned: { work?: string; registry?: LocalRegistry } = {};
const teardown = teardownOnExit(`rollback bench ${prefix}`, async () => {
  await cleanupPrefix(prefix, runner);
  await owned.registry?.stop();
  if (owned.work) await rm(owned.work, { recursive: true, force: true });
});
const work = (owned.work = await mkdtemp(join(tmpdir(), `${prefix}-`)));
const registry = (owned.registry = await startLocalRegistry(runner));
const repository = `${registry.address}/${prefix}-web`;
const env = {
  BERTH_PRODUCTS_DIR: join(work, 'products'),
  BERTH_STATE_DIR: join(work, 'state'),
  BERTH_REGISTRY: registry.address,
  BERTH_WHO: 'bench',
  NO_COLOR: '1',
};

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};
const ms = (x: number) => `${Math.round(x)} ms`;

async function berth(script: string, args: string[]) {
  const started = performance.now();
  const result = await runner.probe([process.execPath, join(root, 'scripts', `${script}.mts`), ...args], { env, cwd: root });
  if (result.exitCode !== 0) throw new Error(`${script} ${args.join(' ')} exited ${result.exitCode}:\n${result.stderr}`);
  return { ...result, wallMs: performance.now() - started };
}

async function ip(container: string): Promise<string> {
  return runner.read(['docker', 'inspect', '--format', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', container]);
}

/** docker run from a local image until ready; both readiness signals, from the same start. */
async function floor(image: string, n: number): Promise<{ httpMs: number; healthyMs: number }> {
  const name = `${prefix}-floor-${n}`;
  const started = performance.now();
  try {
    await runner.run(['docker', 'run', '--detach', '--name', name, image]);
    let httpMs = 0;
    const address = await ip(name);
    for (let i = 0; i < 600 && !httpMs; i++) {
      try {
        const response = await fetch(`http://${address}:8080/healthz`, { signal: AbortSignal.timeout(500) });
        if (response.ok) httpMs = performance.now() - started;
      } catch {
        await sleep(20);
      }
    }
    for (let i = 0; i < 1200; i++) {
      if ((await runner.read(['docker', 'inspect', '--format', '{{.State.Health.Status}}', name])) === 'healthy')
        return { httpMs, healthyMs: performance.now() - started };
      await sleep(20);
    }
    throw new Error(`${name} never became healthy`);
  } finally {
    await runner.probe(['docker', 'rm', '--force', name]);
  }
}

try {
  const repo = join(work, 'repo');
  await runner.run(['mkdir', '-p', repo, env.BERTH_PRODUCTS_DIR]);
  await writeFile(join(repo, 'compose.yaml'), `services:\n  web:\n    image: \${REGISTRY}/${prefix}-web:\${IMAGE_TAG}\n`);
  const define = new URL('../../lib/config/define.mts', import.meta.url).href;
  await writeFile(
    join(env.BERTH_PRODUCTS_DIR, `${prefix}.mts`),
    `import { defineProduct } from '${define}';\nexport default defineProduct({ name: '${prefix}', repo: '${repo}', composeFiles: ['compose.yaml'], services: { web: { kind: 'http', health: { path: '/healthz', port: 8080, timeoutSeconds: 30 } } } });\n`,
  );
  for (const version of ['v1', 'v2']) {
    const built = await buildHttpAppImage(runner, { version, tag: `${prefix}-build/app:${version}` });
    await runner.run(dockerTag(built.tag, `${repository}:${version}`));
    await runner.run(dockerPush(`${repository}:${version}`));
  }
  for (const version of ['v1', 'v2']) await berth('deploy', [prefix, '--tag', version]);
  // Rollbacks below need nothing from the registry: prove it by stopping it.
  await registry.stop();

  const rollbacks: number[] = [];
  const phases: Record<string, number[]> = {};
  const floorsHttp: number[] = [];
  const floorsHealthy: number[] = [];
  let pulls = 0;
  for (let n = 0; n < RUNS; n++) {
    const target = n % 2 === 0 ? 'v1' : 'v2';
    const result = await berth('rollback', [prefix, target, '--json', '--verbose']);
    rollbacks.push(result.wallMs);
    pulls += result.stderr.split('\n').filter((l) => l.trim().startsWith('$ ') && /\s(pull|build)(\s|$)/.test(l)).length;
    for (const [phase, value] of Object.entries((JSON.parse(result.stdout) as { durationsMs: Record<string, number> }).durationsMs))
      (phases[phase] ??= []).push(value);
    const f = await floor(`${repository}:${target}`, n);
    floorsHttp.push(f.httpMs);
    floorsHealthy.push(f.healthyMs);
  }

  const rollback = median(rollbacks);
  const healthy = median(floorsHealthy);
  const http = median(floorsHttp);
  const lines = [
    `rollback bench: ${RUNS} rollbacks of one service between two recorded releases, registry stopped (medians)`,
    `  berth rollback (CLI, wall)           ${ms(rollback).padStart(8)}   pulls/builds run: ${pulls}`,
    `  floor: docker run until healthy      ${ms(healthy).padStart(8)}   ratio ${(rollback / healthy).toFixed(2)}x`,
    `  floor: docker run until HTTP ready   ${ms(http).padStart(8)}   ratio ${(rollback / http).toFixed(2)}x`,
    `  inside the rollback: ${Object.entries(phases)
      .map(([phase, values]) => `${phase} ${ms(median(values))}`)
      .join(', ')}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (pulls > 0) process.exitCode = 1;
} finally {
  await teardown.run();
}
