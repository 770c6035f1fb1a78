#!/usr/bin/env node
// Build off the VM against building on it, side by side in one run, for a one-service change.
//   berth: `scripts/build.mts --push` on the builder (the shared engine), then `scripts/deploy.mts
//          --tag <sha>` on the VM (a second dockerd, DOCKER_HOST): the VM pulls and switches.
//   plain: `docker-compose build && docker-compose up -d` of the same repo on the VM itself, which
//          is what the VM does today; timed to the command's exit and to the new version serving.
// The VM's memory is sampled every 50 ms during each: VmRSS from /proc of its dockerd, the
// containerd it started, the containerd shims naming its exec root and every descendant of those
// (containers, BuildKit's RUN steps, docker-proxy). Shared pages count once per process, so the
// sum overstates a little, the same way for both. Each image's build step stands in for a
// compiler: it hashes 32 MB from /dev/urandom, then holds a BENCH_BUILD_MB string (default 256)
// in awk for BENCH_BUILD_SECONDS (default 2). Real product builds (npm ci, tsc, next build) take
// more of both; set the two variables to match one. BENCH_RUNS runs (default 3).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { detectBuilder } from '../../lib/build/builder.mts';
import { checkEngine } from '../../lib/engine/engine.mts';
import { startLocalRegistry, type LocalRegistry } from '../../lib/dev/local-registry.mts';
import { createRunner } from '../../lib/core/runner.mts';
import { buildBusyboxImage, httpAppFiles } from '../../lib/dev/scratch-images.mts';
import { cleanupPrefix } from '../../test/rig/cleanup.mts';
import { makeFixtureRepo, type FixtureRepo } from '../../test/rig/repo.mts';
import { startSecondEngine, type SecondEngine } from '../../test/rig/second-engine.mts';
import { teardownOnExit } from './support/teardown.mts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const BUILD_MB = Number(process.env.BENCH_BUILD_MB ?? 256);
const BUILD_SECONDS = Number(process.env.BENCH_BUILD_SECONDS ?? 2);
const root = fileURLToPath(new URL('../../', import.meta.url));
const runner = createRunner();
await checkEngine(runner);

const prefix = `berthbench-${randomBytes(3).toString('hex')}`;
const owned: { work?: string; registry?: LocalRegistry; vm?: SecondEngine; repo?: FixtureRepo } = {};
const teardown = teardownOnExit(`build bench ${prefix}`, async () => {
  await owned.vm?.stop();
  await owned.registry?.stop();
  await cleanupPrefix(prefix, runner);
  await owned.repo?.remove();
  if (owned.work) await rm(owned.work, { recursive: true, force: true });
});
const work = (owned.work = await mkdtemp(join(tmpdir(), `${prefix}-`)));
const BASE = 'berth-fixture/busybox:base';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};
const ms = (x: number) => `${Math.round(x)} ms`.padStart(9);
const mb = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(0)} MB`.padStart(7);

const dockerfile = `ARG BASE
FROM \${BASE}
COPY run.sh /app/run.sh
RUN head -c 33554432 /dev/urandom | sha256sum > /app/build.sha && awk 'BEGIN { s = sprintf("%${BUILD_MB * 1024 * 1024}s", ""); system("sleep ${BUILD_SECONDS}"); print length(s) > "/app/build.len" }' && chmod 755 /app/run.sh
HEALTHCHECK --interval=1s --timeout=2s --retries=3 CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/healthz"]
CMD ["/app/run.sh"]
`;
const app = (version: string) => `${httpAppFiles({ version })['/app/run.sh']}# ${prefix}\n`;
const services = ['web', 'api'];

const registry = (owned.registry = await startLocalRegistry(runner));
const vm = (owned.vm = await startSecondEngine());
try {
  await buildBusyboxImage(runner, { tag: BASE, files: {} });
  // The plain way builds on the VM, so the VM needs the base image too (it has no hub either).
  const archive = join(work, 'base.tar');
  await runner.run(['docker', 'image', 'save', '--output', archive, BASE]);
  await vm.runner.run(['docker', 'image', 'load', '--input', archive]);

  const compose = [
    'services:',
    ...services.flatMap((s) => [`  ${s}:`, `    image: \${REGISTRY}/${prefix}-${s}:\${IMAGE_TAG:-latest}`]),
    '',
  ].join('\n');
  const composeBuild = [
    'services:',
    ...services.flatMap((s) => [`  ${s}:`, '    build:', `      context: ./${s}`, '      args:', `        BASE: ${BASE}`]),
    '',
  ].join('\n');
  const repo = (owned.repo = await makeFixtureRepo({
    files: {
      'compose.yaml': compose,
      'compose.build.yaml': composeBuild,
      ...Object.fromEntries(
        services.flatMap((s) => [
          [`${s}/Dockerfile`, dockerfile],
          [`${s}/run.sh`, app(`${s}-0`)],
        ]),
      ),
    },
  }));
  const productsDir = join(work, 'products');
  await runner.run(['mkdir', '-p', productsDir]);
  const define = new URL('../../lib/config/define.mts', import.meta.url).href;
  const health = `health: { path: '/healthz', port: 8080, timeoutSeconds: 30 }`;
  await writeFile(
    join(productsDir, `${prefix}.mts`),
    `import { defineProduct } from '${define}';
export default defineProduct({
  name: '${prefix}', repo: '${repo.dir}', composeFiles: ['compose.yaml'], buildComposeFiles: ['compose.yaml', 'compose.build.yaml'],
  services: { ${services.map((s) => `${s}: { kind: 'http', ${health} }`).join(', ')} },
});
`,
  );
  const env = {
    BERTH_PRODUCTS_DIR: productsDir,
    BERTH_STATE_DIR: join(work, 'state'),
    BERTH_REGISTRY: registry.address,
    BERTH_WHO: 'bench',
    NO_COLOR: '1',
  };
  const berth = async (script: string, args: string[], extra: Record<string, string> = {}) => {
    const result = await runner.probe([process.execPath, join(root, 'scripts', `${script}.mts`), ...args], {
      env: { ...env, ...extra },
      cwd: root,
    });
    if (result.exitCode !== 0) throw new Error(`${script} ${args.join(' ')} exited ${result.exitCode}:\n${result.stderr}`);
    return result;
  };

  // The plain way, as today on the VM: same repo, its own project, BuildKit as berth pins it.
  const builder = await detectBuilder(runner);
  const plainProject = `${prefix}plain`;
  const composeArgs = [
    'docker-compose',
    '--project-name',
    plainProject,
    '--project-directory',
    repo.dir,
    '-f',
    join(repo.dir, 'compose.yaml'),
    '-f',
    join(repo.dir, 'compose.build.yaml'),
  ];
  const plainEnv = {
    ...vm.env,
    REGISTRY: registry.address,
    IMAGE_TAG: 'plain',
    DOCKER_BUILDKIT: builder.kind === 'legacy' ? '0' : '1',
    COMPOSE_DOCKER_CLI_BUILD: '1',
    ...(builder.docker.startsWith('/')
      ? { PATH: `${builder.docker.slice(0, builder.docker.lastIndexOf('/'))}:${process.env.PATH ?? ''}` }
      : {}),
  };
  const plain = async () => {
    await vm.runner.run([...composeArgs, 'build'], { env: plainEnv, timeoutMs: 600_000 });
    await vm.runner.run([...composeArgs, 'up', '--detach'], { env: plainEnv, timeoutMs: 600_000 });
  };
  const serving = async (project: string, version: string) => {
    for (let i = 0; i < 600; i++) {
      const ids = (
        await vm.runner.read([
          'docker',
          'ps',
          '--quiet',
          '--filter',
          `label=com.docker.compose.project=${project}`,
          '--filter',
          'label=com.docker.compose.service=web',
        ])
      )
        .split('\n')
        .filter(Boolean);
      for (const id of ids) {
        const ip = await vm.runner.read(['docker', 'inspect', '--format', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', id]);
        const body = await fetch(`http://${ip}:8080/version`, { signal: AbortSignal.timeout(500) })
          .then((r) => r.text())
          .catch(() => '');
        if (body === version) return;
      }
      await sleep(20);
    }
    throw new Error(`${project} never served ${version}`);
  };

  /** Runs `work` while sampling the VM engine's memory; returns wall time and peak RSS. */
  const measured = async (label: string, work: () => Promise<unknown>) => {
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await vm.rssBytes());
        await sleep(50);
      }
    })();
    const started = performance.now();
    try {
      await work();
    } finally {
      sampling = false;
      await sampler;
    }
    const wall = performance.now() - started;
    process.stderr.write(`  ${label}: ${Math.round(wall)} ms, VM peak ${mb(peak).trim()}\n`);
    return { ms: wall, peak };
  };

  // Warm-up, not measured: the first release on both sides, and a filled build cache.
  await berth('build', [prefix, '--push']);
  await berth('deploy', [prefix], vm.env);
  await plain();
  await serving(plainProject, 'web-0');

  const rows = {
    build: [] as number[],
    deploy: [] as number[],
    deployPeak: [] as number[],
    plain: [] as number[],
    plainServing: [] as number[],
    plainPeak: [] as number[],
    idle: [] as number[],
  };
  let reused = 0;
  const phases = { build: {} as Record<string, number[]>, deploy: {} as Record<string, number[]> };
  for (let n = 1; n <= RUNS; n++) {
    const version = `web-${n}`;
    const sha = await repo.commit({ 'web/run.sh': app(version) }, `web ${n}`);
    await sleep(500);
    rows.idle.push(await vm.rssBytes());

    const built = await measured(`run ${n} berth build+push (builder)`, async () => {
      const result = await berth('build', [prefix, '--push', '--json']);
      const json = JSON.parse(result.stdout) as { images: Record<string, { action: string }>; durationsMs: Record<string, number> };
      if (json.images.api?.action === 'reused') reused++;
      for (const [step, value] of Object.entries(json.durationsMs)) (phases.build[step] ??= []).push(value);
    });
    rows.build.push(built.ms);
    const deployed = await measured(`run ${n} berth pull+switch (VM)`, async () => {
      const result = await berth('deploy', [prefix, '--tag', sha, '--json'], vm.env);
      for (const [step, value] of Object.entries((JSON.parse(result.stdout) as { durationsMs: Record<string, number> }).durationsMs))
        (phases.deploy[step] ??= []).push(value);
    });
    rows.deploy.push(deployed.ms);
    rows.deployPeak.push(deployed.peak);

    let plainMs = 0;
    const plainRun = await measured(`run ${n} plain build && up -d (VM)`, async () => {
      const started = performance.now();
      await plain();
      plainMs = performance.now() - started;
      await serving(plainProject, version);
    });
    rows.plain.push(plainMs);
    rows.plainServing.push(plainRun.ms);
    rows.plainPeak.push(plainRun.peak);
  }

  const build = median(rows.build);
  const deploy = median(rows.deploy);
  const plainMs = median(rows.plain);
  const plainServing = median(rows.plainServing);
  const deployPeak = median(rows.deployPeak);
  const plainPeak = median(rows.plainPeak);
  const idle = median(rows.idle);
  const lines = [
    `build bench: a one-service change (web; api unchanged), ${RUNS} runs, medians; build step holds ${BUILD_MB} MB for ${BUILD_SECONDS} s; builder ${builder.summary}`,
    `  berth  build + push on the builder           ${ms(build)}   (api reused without a build in ${reused}/${RUNS})`,
    `  berth  pull + switch on the VM (deploy)       ${ms(deploy)}   VM peak ${mb(deployPeak)}`,
    `  plain  compose build && up -d on the VM       ${ms(plainMs)}   VM peak ${mb(plainPeak)}`,
    `  plain  ... until the new version serves       ${ms(plainServing)}`,
    `  VM idle before each run                                   ${mb(idle)}`,
    `  ratios: VM busy plain/berth ${(plainServing / deploy).toFixed(2)}x; VM peak memory plain/berth ${(plainPeak / deployPeak).toFixed(2)}x` +
      ` (above idle: ${((plainPeak - idle) / Math.max(1, deployPeak - idle)).toFixed(2)}x); end to end berth/plain ${((build + deploy) / plainServing).toFixed(2)}x`,
    ...(['build', 'deploy'] as const).map(
      (kind) =>
        `  inside berth ${kind}: ${Object.entries(phases[kind])
          .filter(([step]) => step !== 'total')
          .map(([step, values]) => `${step} ${Math.round(median(values))}`)
          .join(', ')} (ms)`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await teardown.run();
}
