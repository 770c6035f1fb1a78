// Build off the VM, with real parts: the shared engine is the builder, a second dockerd is the
// VM, and a registry that wants credentials sits between them. The VM only pulls; a build of
// an unchanged service costs no layer; a dead registry stops a deploy before anything is touched.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manifestDigest, manifestLayers } from '../../lib/registry/manifests.mts';
import { listContainers } from '../../lib/engine/engine.mts';
import { freePort } from '../../lib/dev/local-registry.mts';
import { createRegistryClient } from '../../lib/registry/client.mts';
import { buildBusyboxImage, httpAppFiles } from '../../lib/dev/scratch-images.mts';
import { readLedger } from '../../lib/releases/ledger.mts';
import { startAuthRegistry, type AuthRegistry } from '../rig/auth-registry.mts';
import { makeFixtureProduct, type FixtureProduct } from '../rig/fixture-product.mts';
import { engineAvailable, rigRunner, usePrefix, type BerthResult } from '../rig/index.mts';
import { startSecondEngine, type SecondEngine } from '../rig/second-engine.mts';

const HEALTH = `health: { path: '/healthz', port: 8080, timeoutSeconds: 15 }`;
const BASE = 'berth-fixture/busybox:base';

// The secret is used, never kept: the image holds only its hash, which proves it arrived.
const dockerfile = (secret: boolean) => `ARG BASE
FROM \${BASE}
COPY run.sh /app/run.sh
RUN ${secret ? `--mount=type=secret,id=npm_token if [ -s /run/secrets/npm_token ]; then sha256sum /run/secrets/npm_token | cut -d' ' -f1; else echo none; fi > /app/npm-token.sha256 && ` : ''}chmod 755 /app/run.sh
CMD ["/app/run.sh"]
`;

const composeBuild = `services:
  web:
    build:
      context: ./web
      args:
        BASE: \${BASE_IMAGE}
  api:
    build:
      context: ./api
      args:
        BASE: \${BASE_IMAGE}
`;

// BuildKit keys its cache by content, never by secret: a run-unique line keeps an earlier run's
// layers (built with another token) from standing in for this run's.
const app = (version: string, salt: string) => `${httpAppFiles({ version })['/app/run.sh']}# ${salt}\n`;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

interface DockerEvent {
  Type: string;
  Action: string;
  Actor?: { Attributes?: Record<string, string> };
}

describe.skipIf(!engineAvailable)('build off the VM, deploy by pulling (two engines)', () => {
  const prefix = usePrefix();
  const token = `s3cr3t-${randomBytes(8).toString('hex')}`;
  const npmToken = `npm-${randomBytes(8).toString('hex')}`;
  const outputs: string[] = [];
  let registry: AuthRegistry;
  let vm: SecondEngine;
  let product: FixtureProduct;
  let dockerConfig: string;
  let env: Record<string, string>;
  const shas: string[] = [];

  const client = () => createRegistryClient(registry.address, { username: registry.username, token });
  const digest = (service: string, tag: string) => manifestDigest(client(), product.repository(service), tag);
  const keep = (result: BerthResult) => {
    outputs.push(result.stdout, result.stderr);
    return result;
  };
  const build = async (args: string[], extra: Record<string, string> = {}) =>
    keep(await product.berth([product.name, ...args], { script: 'build', env: { ...env, ...extra } }));
  const deploy = async (args: string[], extra: Record<string, string> = {}) =>
    keep(await product.berth([product.name, ...args], { env: { ...env, ...vm.env, ...extra } }));
  // Seconds with milliseconds: whole seconds would catch the end of the previous command.
  const now = () => (Date.now() / 1000).toFixed(3);
  const events = async (since: string, until: string): Promise<DockerEvent[]> => {
    const text = await vm.runner.read(['docker', 'events', '--since', since, '--until', until, '--format', '{{json .}}']);
    return text
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as DockerEvent);
  };
  const vmContainers = async () =>
    (await listContainers(vm.runner, product.name, undefined, true)).map((c) => `${c.id}:${c.running}`).sort();

  beforeAll(async () => {
    registry = await startAuthRegistry({ username: 'berth-ci', token });
    vm = await startSecondEngine();
    dockerConfig = await mkdtemp(join(tmpdir(), `${prefix}-docker-config-`));
    // A buildx installed under the caller's own DOCKER_CONFIG (not system-wide) stays visible.
    const plugins = process.env.DOCKER_CONFIG ? join(process.env.DOCKER_CONFIG, 'cli-plugins') : '';
    if (plugins && (await stat(plugins).catch(() => undefined))?.isDirectory()) await symlink(plugins, join(dockerConfig, 'cli-plugins'));
    await buildBusyboxImage(rigRunner, { tag: BASE, files: {} });
    product = await makeFixtureProduct({
      prefix,
      registry: registry.address,
      services: {
        web: { product: `${HEALTH}, build: { context: 'web', secrets: { npm_token: 'GITEA_NPM_TOKEN' } }` },
        api: { product: `${HEALTH}, build: { context: 'api' }` },
      },
      productExtra: `  buildComposeFiles: ['compose.yaml', 'compose.build.yaml'],
  beforeBuild: [{ name: 'packages', secrets: ['GITEA_NPM_TOKEN'], command: ['sh', '-c',
    'echo "$BERTH_KIND $BERTH_CHANGED token:\${#GITEA_NPM_TOKEN}" >> "$HOOK_OUT"; [ -z "$HOOK_FAIL" ] || { echo package @acme/ui missing; exit 4; }'] }],`,
      files: {
        'compose.build.yaml': composeBuild,
        'web/Dockerfile': dockerfile(true),
        'web/run.sh': app('web-1', prefix),
        'api/Dockerfile': dockerfile(false),
        'api/run.sh': app('api-1', prefix),
      },
    });
    shas.push(product.repo.sha);
    env = {
      ...product.env,
      BERTH_REGISTRY_USER: registry.username,
      BERTH_REGISTRY_TOKEN: token,
      GITEA_NPM_TOKEN: npmToken,
      // docker login writes here, not into the machine's ~/.docker.
      DOCKER_CONFIG: dockerConfig,
      BASE_IMAGE: BASE,
      HOOK_OUT: join(dockerConfig, 'before-build.out'),
    };
  });
  afterAll(async () => {
    await vm?.stop();
    await product?.remove();
    await registry?.stop();
    if (dockerConfig) await rm(dockerConfig, { recursive: true, force: true });
  });

  it('refuses a dirty tree, an anonymous push and a failing beforeBuild hook with one line each, building nothing', async () => {
    const scratch = join(product.repo.dir, 'web', 'scratch.txt');
    await writeFile(scratch, 'work in progress\n');
    const dirty = await build(['--push']);
    await rm(scratch);
    expect(dirty.exitCode).toBe(2);
    expect(dirty.stderr.split('\n').filter((l) => l.startsWith('error:'))).toEqual([
      expect.stringMatching(/uncommitted changes .*web\/scratch\.txt.*--allow-dirty/),
    ]);

    const anonymous = await build(['--push'], { BERTH_REGISTRY_USER: '', BERTH_REGISTRY_TOKEN: '' });
    expect(anonymous.exitCode).toBe(3);
    expect(anonymous.stderr.split('\n').filter((l) => l.startsWith('error:'))).toEqual([
      expect.stringMatching(/refused anonymous access: set BERTH_REGISTRY_USER/),
    ]);
    expect(registry.grants.refused).toBeGreaterThan(0);

    const refused = await build(['--push'], { HOOK_FAIL: '1' });
    expect(refused.exitCode).toBe(3);
    expect(refused.stderr.split('\n').filter((l) => l.startsWith('error:'))).toEqual([
      expect.stringMatching(
        /^error: beforeBuild 'packages' exited 4: package @acme\/ui missing; nothing was built or pushed: make the hook pass/,
      ),
    ]);
    expect(refused.stderr).not.toMatch(/docker build|docker push/);
    expect(await digest('web', shas[0] as string)).toBeUndefined();
    await rm(env.HOOK_OUT as string, { force: true });
  });

  it('builds and pushes :<sha> and :latest of every image, secrets as BuildKit secrets', async () => {
    const result = await build(['--push', '--json', '--verbose']);
    expect(result.stderr).not.toMatch(/^error:/m);
    expect(result.exitCode).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(json).toMatchObject({
      tag: shas[0],
      dirty: false,
      pushed: true,
      images: {
        web: { action: 'built', reason: 'not in the registry, and no :latest to reuse' },
        api: { action: 'built' },
      },
    });
    // npm test runs this file once per builder and says which one must run (BERTH_EXPECT_BUILDER),
    // so a bake stage that silently fell back cannot pass.
    if (process.env.BERTH_EXPECT_BUILDER) expect(json.builder.kind).toBe(process.env.BERTH_EXPECT_BUILDER);
    // Which builder ran is said in one line: bake when buildx is installed, else `docker build`.
    if (json.builder.kind !== 'bake') expect(result.stderr).toMatch(/buildx is not installed: .*docker build/);
    expect(json.images.web.builtWith).toBe(json.builder.kind === 'legacy' ? 'legacy' : json.builder.kind);
    // The beforeBuild hook ran once, on this builder, with the build's facts and its secret.
    expect(json.hooks).toMatchObject([{ point: 'beforeBuild', name: 'packages', result: 'ok', exitCode: 0 }]);
    expect(await readFile(env.HOOK_OUT as string, 'utf8')).toBe(`build web,api token:${npmToken.length}\n`);
    for (const service of ['web', 'api']) {
      const sha = await digest(service, shas[0] as string);
      expect(sha, service).toMatch(/^sha256:/);
      expect(await digest(service, 'latest'), service).toBe(sha);
      expect(json.images[service].digest).toBe(sha);
    }
    const web = `${product.repository('web')}:${shas[0]}`;
    expect(await rigRunner.read(['docker', 'run', '--rm', '--entrypoint', 'cat', web, '/app/npm-token.sha256'])).toBe(sha256(npmToken));
    const history = await rigRunner.read(['docker', 'history', '--no-trunc', '--format', '{{.CreatedBy}}', web]);
    const inspect = await rigRunner.read(['docker', 'image', 'inspect', web]);
    expect(`${history}${inspect}`).not.toContain(npmToken);
    expect(inspect).toContain(`"org.opencontainers.image.revision": "${shas[0]}"`);
  });

  it('builds nothing the second time for the same SHA', async () => {
    const before = { web: await digest('web', shas[0] as string), api: await digest('api', shas[0] as string) };
    const result = await build(['--push', '--json', '--verbose']);
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ images: { web: { action: 'present' }, api: { action: 'present' } } });
    expect(JSON.parse(result.stdout).hooks).toBeUndefined();
    // --verbose prints every command berth runs: none builds or pushes.
    expect(result.stderr).not.toMatch(/docker build|docker push|buildx/);
    expect(result.stderr).toMatch(/already in the registry/);
    expect({ web: await digest('web', shas[0] as string), api: await digest('api', shas[0] as string) }).toEqual(before);
  });

  it('deploys the SHA on the VM engine by pulling: only pulled images, no build event', async () => {
    const since = now();
    const result = await deploy(['--tag', shas[0] as string, '--json']);
    const until = now();
    expect(result.stderr).not.toMatch(/^error:/m);
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ result: 'ok' });
    expect(JSON.parse(result.stdout).changed.sort()).toEqual(['api', 'web']);

    const images = (
      await vm.runner.read(['docker', 'image', 'ls', '--all', '--digests', '--format', '{{.Repository}}:{{.Tag}}|{{.Digest}}'])
    )
      .split('\n')
      .sort();
    expect(images).toEqual([
      `${product.repository('api')}:${shas[0]}|${await digest('api', shas[0] as string)}`,
      `${product.repository('web')}:${shas[0]}|${await digest('web', shas[0] as string)}`,
    ]);
    const seen = await events(since, until);
    const imageEvents = seen.filter((e) => e.Type === 'image');
    expect(imageEvents.map((e) => e.Action).sort()).toEqual(['pull', 'pull']);
    // A build would run intermediate containers (legacy) or leave build cache (BuildKit): neither.
    const foreign = seen.filter((e) => e.Type === 'container' && e.Actor?.Attributes?.['com.docker.compose.project'] !== product.name);
    expect(foreign).toEqual([]);
    expect(await vm.runner.read(['docker', 'system', 'df', '--format', '{{.Type}}={{.TotalCount}}'])).toContain('Build Cache=0');

    const [web] = (await listContainers(vm.runner, product.name, 'web')).filter((c) => c.running);
    const ip = Object.values(web?.networks ?? {})[0];
    expect(await (await fetch(`http://${ip}:8080/version`, { signal: AbortSignal.timeout(2_000) })).text()).toBe('web-1');
  });

  it('rebuilds only the changed service: the other keeps its digest and no layer moves for it', async () => {
    shas.push(await product.repo.commit({ 'web/run.sh': app('web-2', prefix) }, 'web 2'));
    const [first, second] = shas as [string, string];
    // With the registry cache: bake with buildx's docker driver cannot export one, and says so once.
    const result = await build(['--push', '--json', '--verbose'], { BERTH_BUILD_CACHE: 'registry' });
    expect(result.stderr).not.toMatch(/^error:/m);
    expect(result.exitCode).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(json).toMatchObject({ tag: second, images: { web: { action: 'built' }, api: { action: 'reused' } } });
    // The reason names what differs from :latest: the file, from a git diff of :latest's commit.
    expect(json.images.web.reason).toBe('web/run.sh changed');
    expect(result.stderr).toMatch(/^ {4}web: build \(web\/run\.sh changed\)$/m);
    if (json.builder.kind === 'bake') {
      expect(result.stderr).toMatch(/^ {4}web: built with bake and pushed/m);
      expect(result.stderr).not.toMatch(/^ {4}api: built/m);
      // The docker driver of engine 20.10 (no containerd image store) refuses; other drivers export.
      const inspect = await rigRunner.probe(['docker', 'buildx', 'inspect'], { env: { DOCKER_CONFIG: dockerConfig } });
      const driver = /^Driver:\s*(\S+)/m.exec(inspect.stdout)?.[1];
      const refusals = result.stderr.split('\n').filter((l) => /cannot export a registry cache/.test(l));
      expect(refusals).toHaveLength(driver === 'docker' ? 1 : 0);
    } else {
      expect(result.stderr).toMatch(new RegExp(`docker push --quiet ${product.repository('web')}:${second}`));
      expect(result.stderr).not.toMatch(new RegExp(`docker push --quiet ${product.repository('api')}`));
    }

    expect(await digest('api', second)).toBe(await digest('api', first));
    expect(await digest('api', 'latest')).toBe(await digest('api', first));
    expect(await digest('web', second)).not.toBe(await digest('web', first));
    const baseLayers = Number(await rigRunner.read(['docker', 'image', 'inspect', '--format', '{{len .RootFS.Layers}}', BASE]));
    const oldLayers = (await manifestLayers(client(), product.repository('web'), first)) ?? [];
    const newLayers = (await manifestLayers(client(), product.repository('web'), second)) ?? [];
    expect(newLayers.slice(0, baseLayers)).toEqual(oldLayers.slice(0, baseLayers));
    expect(newLayers.filter((layer) => !oldLayers.includes(layer))).toHaveLength(newLayers.length - baseLayers);

    const [apiBefore] = (await listContainers(vm.runner, product.name, 'api')).filter((c) => c.running);
    const deployed = await deploy(['--tag', second, '--json']);
    expect(deployed.exitCode).toBe(0);
    expect(JSON.parse(deployed.stdout).changed).toEqual(['web']);
    const [apiAfter] = (await listContainers(vm.runner, product.name, 'api')).filter((c) => c.running);
    expect(apiAfter?.id).toBe(apiBefore?.id);
  });

  it('stops in preflight when the registry is unreachable, touching nothing, naming --build-on-vm', async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const containers = await vmContainers();
    const ledger = readLedger(join(product.stateDir, product.name)).length;
    const since = now();
    const result = await deploy(['--tag', shas[1] as string], { BERTH_REGISTRY: dead });
    const until = now();
    expect(result.exitCode).toBe(3);
    const errors = result.stderr.split('\n').filter((l) => l.startsWith('error:'));
    expect(errors).toEqual([expect.stringMatching(new RegExp(`registry ${dead} is not reachable .*--build-on-vm`))]);
    expect(result.stderr).toMatch(/==> preflight/);
    expect(result.stderr).not.toMatch(/==> (pull|start|build)/);
    expect(await vmContainers()).toEqual(containers);
    expect((await events(since, until)).filter((e) => e.Type === 'container' || e.Type === 'image')).toEqual([]);
    expect(readLedger(join(product.stateDir, product.name))).toHaveLength(ledger);
  });

  it('--build-on-vm builds on the VM when the registry is down: loud, BuildKit, recorded', async () => {
    // The VM has no base image (it only ever pulled): give it one, as an operator would.
    const archive = join(dockerConfig, 'base.tar');
    await rigRunner.run(['docker', 'image', 'save', '--output', archive, BASE]);
    await vm.runner.run(['docker', 'image', 'load', '--input', archive]);
    await rm(archive);
    shas.push(await product.repo.commit({ 'web/run.sh': app('web-3', prefix) }, 'web 3'));
    const dead = `127.0.0.1:${await freePort()}`;
    const result = await deploy(['--tag', shas[2] as string, '--build-on-vm', '--json'], { BERTH_REGISTRY: dead });
    expect(result.stderr).not.toMatch(/^error:/m);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toContain('BUILDING ON THE VM (--build-on-vm)');
    expect(result.stderr).toMatch(/built .*web.* on this VM with (buildkit|the legacy builder|BuildKit)/);
    const record = readLedger(join(product.stateDir, product.name)).at(-1);
    expect(record).toMatchObject({ tag: shas[2], kind: 'build-on-vm', result: 'ok' });
    const [web] = (await listContainers(vm.runner, product.name, 'web')).filter((c) => c.running);
    expect(web?.image).toBe(`${dead}/${prefix}-web:${shas[2]}`);
    const ip = Object.values(web?.networks ?? {})[0];
    expect(await (await fetch(`http://${ip}:8080/version`, { signal: AbortSignal.timeout(2_000) })).text()).toBe('web-3');
  });

  it('never shows the registry token or a build secret: not in output, logs, ledger or state', async () => {
    expect(outputs.length).toBeGreaterThan(10);
    for (const output of outputs) {
      expect(output).not.toContain(token);
      expect(output).not.toContain(npmToken);
      // Nothing even needed redacting: the values never reached an argv or a message.
      expect(output).not.toContain('[REDACTED]');
    }
    const files: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await readdir(dir)) {
        const path = join(dir, entry);
        if ((await stat(path)).isDirectory()) await walk(path);
        else files.push(path);
      }
    };
    await walk(product.stateDir);
    expect(files.some((f) => f.endsWith('releases.jsonl'))).toBe(true);
    for (const file of files) {
      const text = await readFile(file, 'utf8');
      expect(text, file).not.toContain(token);
      expect(text, file).not.toContain(npmToken);
    }
  });
});
