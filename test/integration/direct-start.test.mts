// berth starts a start-first service's new replica with docker instead of Compose (seconds faster
// with Compose v1). That is only right if the container is the one Compose would have made: this
// compares, on the real engine, a replica Compose created with the one berth created from the same
// compose file, and checks that Compose counts berth's as one of the service's own.
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeBase, type ComposeFlavour } from '../../lib/commands/compose.mts';
import { dockerInspect } from '../../lib/commands/docker.mts';
import { containerHasFile, inspectContainers, listContainers, psContainers } from '../../lib/engine/engine.mts';
import { localImageId } from '../../lib/engine/images.mts';
import { detectCompose } from '../../lib/engine/compose.mts';
import type { Runner } from '../../lib/core/runner.mts';
import { engineAvailable, rigRunner, usePrefix, useRegistry } from '../rig/index.mts';
import { makeFixtureProduct, runningContainers, type FixtureProduct } from '../rig/fixture-product.mts';

interface Inspected {
  Id: string;
  Name: string;
  Image: string;
  Config: {
    Env: string[];
    Cmd: string[] | null;
    Entrypoint: string[] | null;
    WorkingDir: string;
    User: string;
    Labels: Record<string, string>;
    Healthcheck?: unknown;
    ExposedPorts?: Record<string, unknown>;
    StopSignal?: string;
  };
  HostConfig: { Memory: number; NanoCpus: number; RestartPolicy: unknown; LogConfig: unknown; Tmpfs?: Record<string, string> | null };
  Mounts: { Type: string; Name?: string; Source: string; Destination: string; RW: boolean }[];
  NetworkSettings: { Networks: Record<string, { Aliases: string[] | null }> };
}

// berth.config-digest: berth's own record of the config it started a replica from (change
// detection and status read it); Compose never writes it.
const VARYING_LABELS = ['com.docker.compose.container-number', 'com.docker.compose.config-hash', 'berth.config-digest'];

/** What must be equal between two replicas of one service (not ids, names, numbers). */
function essence(c: Inspected) {
  const shortId = c.Id.slice(0, 12);
  return {
    image: c.Image,
    env: [...c.Config.Env].sort(),
    // --entrypoint takes one word, so the split between the two may differ; the process may not.
    argv: [...(c.Config.Entrypoint ?? []), ...(c.Config.Cmd ?? [])],
    workingDir: c.Config.WorkingDir,
    user: c.Config.User,
    labels: Object.fromEntries(Object.entries(c.Config.Labels).filter(([k]) => !VARYING_LABELS.includes(k))),
    healthcheck: c.Config.Healthcheck,
    // v2 writes an `expose` port without its protocol ("9000"), the CLI with it: both mean tcp.
    exposed: Object.keys(c.Config.ExposedPorts ?? {})
      .map((p) => (p.includes('/') ? p : `${p}/tcp`))
      .sort(),
    memory: c.HostConfig.Memory,
    cpus: c.HostConfig.NanoCpus,
    restart: c.HostConfig.RestartPolicy,
    logging: c.HostConfig.LogConfig,
    tmpfs: c.HostConfig.Tmpfs ?? {},
    mounts: c.Mounts.map((m) => `${m.Type} ${m.Type === 'volume' ? m.Name : m.Source} ${m.Destination} ${m.RW ? 'rw' : 'ro'}`).sort(),
    // Compose v1 adds the container's short id as an alias, v2 its name; Docker answers to both anyway.
    networks: Object.fromEntries(
      Object.entries(c.NetworkSettings.Networks).map(([n, e]) => [
        n,
        (e.Aliases ?? []).filter((a) => a !== shortId && !c.Id.startsWith(a) && a !== c.Name.replace(/^\//, '')).sort(),
      ]),
    ),
  };
}

describe.skipIf(!engineAvailable)('direct start of a new replica', () => {
  const prefix = usePrefix();
  const registry = useRegistry();
  let product: FixtureProduct;
  let flavour: ComposeFlavour;
  /** The replica's name ending as a regex source: `_app_2` (v1) or `-app-2` (v2). */
  const nth = (n: number) => (flavour.name === 'v1' ? `_app_${n}` : `-app-${n}`);

  beforeAll(async () => {
    flavour = await detectCompose(rigRunner);
    const compose = [
      'services:',
      '  app:',
      `    image: \${REGISTRY}/${prefix}-app:\${IMAGE_TAG:-latest}`,
      '    env_file: app.env',
      '    environment:',
      '      FROM_COMPOSE: "yes"',
      `      QUOTED: "it's \\"quoted\\" and  spaced"`,
      '      APP_SETTING: ${PARITY_VALUE}',
      '      PRICE: "$$5 and $${HOME}"',
      "    command: /bin/sh -c 'exec /app/run.sh'",
      '    working_dir: /www',
      '    labels: { com.example.team: ops }',
      '    restart: unless-stopped',
      '    logging: { driver: json-file, options: { max-size: 1m, max-file: "2" } }',
      "    deploy: { resources: { limits: { memory: 48m, cpus: '0.5' } } }",
      '    tmpfs: [/scratch]',
      '    volumes: [appdata:/data, ./conf:/conf:ro]',
      '    networks: { front: { aliases: [app-front] }, back: {} }',
      '    expose: ["9000"]',
      '    stop_grace_period: 7s',
      '    healthcheck: { test: "wget -q -O /dev/null http://127.0.0.1:8080/healthz", interval: 1s, timeout: 2s, retries: 3 }',
      'volumes: { appdata: {} }',
      'networks: { front: {}, back: {} }',
      '',
    ].join('\n');
    product = await makeFixtureProduct({
      prefix,
      registry: registry.address,
      services: { app: { kind: 'worker' } },
      files: { 'compose.yaml': compose, 'app.env': 'FROM_ENV_FILE=one two\nEMPTY=\n', 'conf/app.conf': 'x=1\n' },
    });
    await product.pushApp('app', 'v1');
  });
  afterAll(() => product?.remove());

  it("makes the container Compose would have made, which Compose counts as the service's own, with no environment value on a command line", async () => {
    // Not named like a secret, so the runner's redaction would not hide it: its absence from the
    // --verbose command lines shows it never was on one.
    const env = { PARITY_VALUE: 'parity-value-9f3e' };
    const first = await product.berth([product.name, '--tag', 'v1', '--verbose'], { env });
    expect(first.stderr).not.toMatch(/error:/);
    expect(first.exitCode).toBe(0);
    const [byCompose] = await runningContainers(product, 'app');
    const composed = JSON.parse(await rigRunner.read(dockerInspect([byCompose?.id ?? '']))) as Inspected[];

    // Compose made it, so Compose's own hash (asked for the image it runs) says whether it runs
    // this config: env_file, $$, volumes and all resolve alike, and a plain deploy keeps it.
    const kept = await product.berth([product.name, '--tag', 'v1', '--json'], { env });
    expect(kept.exitCode, kept.stderr).toBe(0);
    expect((JSON.parse(kept.stdout) as { changed: string[] }).changed).toEqual([]);
    expect((await runningContainers(product, 'app')).map((c) => c.id)).toEqual([byCompose?.id]);

    // --all: the same image again, so that everything but the starter is equal.
    const second = await product.berth([product.name, '--tag', 'v1', '--all', '--verbose'], { env });
    expect(second.exitCode).toBe(0);
    expect(second.stderr).toMatch(new RegExp(`app: starting .*${nth(2)} beside the running one`));
    expect(second.stderr).not.toContain('Compose starts');
    expect(second.stderr).toMatch(new RegExp(`\\$ docker create --name \\S+${nth(2)} .*--env-file `));
    expect(`${first.stdout}${first.stderr}${second.stdout}${second.stderr}`).not.toContain(env.PARITY_VALUE);
    const [byBerth, ...others] = await runningContainers(product, 'app');
    expect(others).toEqual([]);
    expect(byBerth?.id).not.toBe(byCompose?.id);
    const started = JSON.parse(await rigRunner.read(dockerInspect([byBerth?.id ?? '']))) as Inspected[];
    expect(essence(started[0] as Inspected)).toEqual(essence(composed[0] as Inspected));
    expect(started[0]?.Config.Env).toContain(`APP_SETTING=${env.PARITY_VALUE}`);
    expect(started[0]?.Config.Labels['com.docker.compose.container-number']).toBe('2');

    // Compose sees it as the service's replica: `ps` lists it, and a Compose-started deploy
    // (the fallback) numbers the next one after it.
    const project = { flavour, name: product.name, directory: product.repo.dir, files: [resolve(product.repo.dir, 'compose.yaml')] };
    const ps = await rigRunner.read([...composeBase(project), 'ps', '-q', 'app'], { env: { REGISTRY: registry.address, ...env } });
    expect(
      ps
        .split('\n')
        .filter(Boolean)
        .map((id) => byBerth?.id.startsWith(id)),
    ).toEqual([true]);
    // A plain `compose up -d` by hand, same config and image: each flavour finds its own config
    // hash on berth's replica (v2 also its image id) and leaves it running. v1's hash comes from
    // v1's own config dump, asked beside the pull (engine/compose.mts composeV1HashInputs).
    const upByHand = await rigRunner.probe([...composeBase(project), 'up', '--detach', '--no-build', 'app'], {
      env: { REGISTRY: registry.address, IMAGE_TAG: 'v1', ...env },
    });
    expect(upByHand.exitCode, upByHand.stderr).toBe(0);
    const afterUp = await runningContainers(product, 'app');
    expect(afterUp.map((c) => c.id)).toEqual([byBerth?.id]);
    expect(afterUp.map((c) => c.labels['com.docker.compose.container-number'])).toEqual(['2']);
    const third = await product.berth([product.name, '--tag', 'v1', '--all', '--verbose'], { env: { ...env, BERTH_START: 'compose' } });
    expect(third.exitCode).toBe(0);
    expect(third.stderr).toContain('app: Compose starts the new container (BERTH_START=compose)');
    const [byComposeAgain] = await runningContainers(product, 'app');
    expect(byComposeAgain?.labels['com.docker.compose.container-number']).toBe('3');
  });

  it('reads the same containers and image ids through the Engine API socket as through the CLI', async () => {
    const cli: Runner = { ...rigRunner, engine: undefined };
    const apiCalls = rigRunner.history.length;
    const viaEngine = await listContainers(rigRunner, product.name, 'app', true);
    // The engine path ran no docker process for that.
    expect(rigRunner.history.length).toBe(apiCalls);
    const viaCli = await listContainers(cli, product.name, 'app', true);
    expect(viaEngine.length).toBeGreaterThan(0);
    // Docker appends a health-check result every interval, so the log may grow between the two
    // reads; everything else must be equal.
    const steady = (cs: typeof viaEngine) => cs.map(({ healthLog: _log, ...rest }) => rest);
    expect(steady(viaEngine)).toEqual(steady(viaCli));
    expect(await inspectContainers(rigRunner, ['0123456789ab-gone'])).toEqual([]);
    const byPs = (r: Runner) => psContainers(r, { project: product.name, all: true }).then((cs) => cs.map((c) => c.id).sort());
    expect(await byPs(rigRunner)).toEqual(await byPs(cli));
    const ref = `${product.repository('app')}:v1`;
    expect(await localImageId(rigRunner, ref)).toMatch(/^sha256:/);
    expect(await localImageId(rigRunner, ref)).toBe(await localImageId(cli, ref));
    expect(await localImageId(rigRunner, `${ref}-missing`)).toBeUndefined();
    expect(await localImageId(cli, `${ref}-missing`)).toBeUndefined();
    const [app] = viaEngine.filter((c) => c.running);
    expect(await containerHasFile(rigRunner, app?.id ?? '', ['/usr/bin/wget', '/bin/wget'])).toBe(true);
    expect(await containerHasFile(rigRunner, app?.id ?? '', ['/usr/bin/curl'])).toBe(false);
    expect(await containerHasFile(cli, app?.id ?? '', ['/bin/wget'])).toBeUndefined();
  });

  it("runs docker exec through the Engine API with the CLI's output and exit codes", async () => {
    const [app] = await runningContainers(product, 'app');
    const id = app?.id ?? '';
    const cliOnly = (argv: string[]) => rigRunner.probe(argv, { env: { DOCKER_CLI_HINTS: 'false' } });
    for (const cmd of [
      ['sh', '-c', 'echo out; echo err >&2; exit 3'],
      ['wget', '-q', '-O', '-', 'http://127.0.0.1:8080/healthz'],
      ['no-such-program'],
    ]) {
      const argv = ['docker', 'exec', id, ...cmd];
      const before = rigRunner.history.length;
      const viaEngine = await rigRunner.probe(argv);
      const viaCli = await cliOnly(argv);
      expect(rigRunner.history.length).toBe(before + 2);
      // A silent fall-back to the CLI would pass the comparison below: say which path answered.
      expect(viaEngine.via, 'docker exec went through a process, not the Engine API').toBe('engine-api');
      expect(viaCli.via).toBeUndefined();
      expect({ exit: viaEngine.exitCode, out: viaEngine.stdout, err: viaEngine.stderr }).toEqual({
        exit: viaCli.exitCode,
        out: viaCli.stdout,
        err: viaCli.stderr,
      });
    }
    const gone = await rigRunner.probe(['docker', 'exec', `${prefix}-no-such-container`, 'true']);
    expect(gone.exitCode).not.toBe(0);
    expect(gone.stderr).toMatch(/No such container/);
  });

  it('--dry-run prints the exact docker commands of the new replica and starts nothing', async () => {
    const before = (await listContainers(rigRunner, product.name, undefined, true)).map((c) => c.id);
    const dry = await product.berth([product.name, '--tag', 'v1', '--all', '--dry-run'], { env: { PARITY_VALUE: 'parity-value-9f3e' } });
    expect(dry.exitCode, dry.stderr).toBe(0);
    const line = dry.stderr.split('\n').find((l) => l.includes('dry run: would run docker create'));
    expect(line).toMatch(
      new RegExp(
        `docker create --name \\S+${nth(4)} --pull never --env-file \\S+${nth(4)}\\.replica\\.env .* && docker network connect .* && docker start \\S+${nth(4)}`,
      ),
    );
    expect(line).toContain('(each --env-file is written just before, mode 600, and removed after)');
    expect(dry.stderr).not.toContain('parity-value-9f3e');
    expect((await listContainers(rigRunner, product.name, undefined, true)).map((c) => c.id)).toEqual(before);
    expect(readdirSync(join(product.stateDir, product.name)).filter((f) => f.endsWith('.env'))).toEqual([]);
  });
});
