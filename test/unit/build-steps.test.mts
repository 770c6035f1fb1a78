// The build pipeline and --build-on-vm with a fake runner answering from a command table (an
// unknown command fails the test) and an in-process registry speaking the manifest API on
// 127.0.0.1. Asserts which commands ran, with which argv and environment, and what was skipped.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { detectBuilder } from '../../lib/build/builder.mts';
import { planBuildOnVm } from '../../lib/deploy/build-on-vm.mts';
import { sourceKey, sourceLabels, sourceParts, type ImageBuild } from '../../lib/build/plan.mts';
import { buildProduct } from '../../lib/build/build-product.mts';
import { createBuildContext, type BuildOptions } from '../../lib/build/context.mts';
import type { Product, Settings } from '../../lib/config/load.mts';
import type { DeployContext } from '../../lib/deploy/context.mts';
import { createDeployContext } from '../../lib/deploy/deploy-product.mts';
import { CommandError, ConfigError, EngineError, UsageError } from '../../lib/core/errors.mts';
import type { CommandResult, RunOptions, Runner } from '../../lib/core/runner.mts';
import { pull } from '../../lib/deploy/steps/pull.mts';
import type { Ui } from '../../lib/core/ui.mts';

const SHA = 'c'.repeat(40);
const SECRET = 'npm-secret-value-1234';

// ---- a fake runner: answers from a table, records every call -------------------------------

interface Call {
  argv: string[];
  mode: 'run' | 'read' | 'probe';
  env: Record<string, string | undefined>;
  input?: string;
  dry: boolean;
}
type Answer = Partial<Pick<CommandResult, 'exitCode' | 'stdout' | 'stderr'>>;
type Rule = [RegExp, Answer | ((argv: string[]) => Answer)];

function fakeRunner(rules: Rule[], dryRun = false): Runner & { calls: Call[] } {
  const calls: Call[] = [];
  const answer = (argv: string[], mode: Call['mode'], opts: RunOptions = {}): CommandResult => {
    const line = argv.join(' ');
    calls.push({
      argv,
      mode,
      env: opts.env ?? {},
      ...(opts.input !== undefined ? { input: opts.input } : {}),
      dry: dryRun && mode === 'run',
    });
    if (dryRun && mode === 'run') return { argv, exitCode: 0, stdout: '', stderr: '', ms: 0, dryRun: true };
    const rule = rules.find(([pattern]) => pattern.test(line));
    if (!rule) throw new Error(`unexpected command: ${line}`);
    const a = typeof rule[1] === 'function' ? rule[1](argv) : rule[1];
    return { argv, exitCode: a.exitCode ?? 0, stdout: a.stdout ?? '', stderr: a.stderr ?? '', ms: 1, dryRun: false };
  };
  const fail = (r: CommandResult) => {
    // What the real runner throws, so the steps' handling of a failed command is what runs.
    throw new CommandError(r.argv.join(' '), r.exitCode, r.stderr);
  };
  return {
    dryRun,
    calls,
    history: [],
    format: (argv) => argv.join(' '),
    redact: (text) => text.split(SECRET).join('[REDACTED]'),
    addSecret: () => {},
    async run(argv, opts) {
      const r = answer(argv, 'run', opts);
      if (r.exitCode !== 0) fail(r);
      return r;
    },
    async read(argv, opts) {
      const r = answer(argv, 'read', opts);
      if (r.exitCode !== 0) fail(r);
      return r.stdout.trim();
    },
    probe: async (argv, opts) => answer(argv, 'probe', opts),
  };
}

function recordingUi(): Ui & { lines: string[] } {
  const lines: string[] = [];
  const push = (prefix: string) => (message: string) => lines.push(`${prefix}${message}`);
  return {
    verbose: false,
    lines,
    step: (title) => {
      lines.push(`==> ${title}`);
      return { update: push('  '), succeed: () => lines.push('  ok'), skip: push('  skipped: '), fail: push('  FAILED: ') };
    },
    info: push('  '),
    warn: push('warning: '),
    error: push('error: '),
    debug: () => {},
    detail: (details) => details.forEach(push('  | ')),
    result: (result) => [result].flat().forEach(push('stdout: ')),
    json: () => {},
  };
}

// ---- a fake registry: manifests and config blobs in memory ---------------------------------

const MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
interface Stored {
  body: string;
  digest: string;
}
class FakeRegistry {
  manifests = new Map<string, Stored>();
  blobs = new Map<string, string>();
  requests: string[] = [];
  server?: Server;
  address = '';

  image(repo: string, tag: string, labels: Record<string, string>, layers: string[]): Stored {
    const config = JSON.stringify({ config: { Labels: labels } });
    const configDigest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
    this.blobs.set(`${repo}@${configDigest}`, config);
    const body = JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST,
      config: { digest: configDigest },
      layers: layers.map((digest) => ({ digest, size: 1 })),
    });
    const stored = { body, digest: `sha256:${createHash('sha256').update(body).digest('hex')}` };
    this.manifests.set(`${repo}:${tag}`, stored);
    return stored;
  }

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      const match = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(request.url ?? '');
      this.requests.push(`${request.method} ${request.url}`);
      if (!match) {
        response.writeHead(request.url === '/v2/' ? 200 : 404).end();
        return;
      }
      const [, repo, kind, ref] = match as unknown as [string, string, string, string];
      if (kind === 'blobs') {
        const blob = this.blobs.get(`${repo}@${ref}`);
        response.writeHead(blob ? 200 : 404, { 'content-type': 'application/json' }).end(blob ?? '');
        return;
      }
      if (request.method === 'PUT') {
        let body = '';
        request.on('data', (chunk) => (body += chunk));
        request.on('end', () => {
          const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
          this.manifests.set(`${repo}:${ref}`, { body, digest });
          response.writeHead(201, { 'docker-content-digest': digest }).end();
        });
        return;
      }
      const stored = ref.startsWith('sha256:')
        ? [...this.manifests.values()].find((m) => m.digest === ref)
        : this.manifests.get(`${repo}:${ref}`);
      if (!stored) {
        response.writeHead(404).end();
        return;
      }
      response.writeHead(200, { 'content-type': MANIFEST, 'docker-content-digest': stored.digest });
      response.end(request.method === 'HEAD' ? undefined : stored.body);
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.address = `127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }
}

// ---- the product ----------------------------------------------------------------------------

const repoDir = mkdtempSync(join(tmpdir(), 'berth-build-steps-'));
writeFileSync(join(repoDir, 'compose.yaml'), 'services:\n  web:\n    image: x\n');
writeFileSync(join(repoDir, 'compose.build.yaml'), 'services:\n  web:\n    build: ./web\n');
const registry = new FakeRegistry();
beforeAll(() => registry.start());
afterAll(async () => {
  await new Promise((resolve) => registry.server?.close(resolve));
  rmSync(repoDir, { recursive: true, force: true });
});

function makeProduct(): Product {
  const reg = registry.address;
  const service = (name: string, build: object) => ({ name, kind: 'http', repository: `${reg}/shop-${name}`, build });
  return {
    def: { name: 'shop', repo: repoDir, composeFiles: ['compose.yaml'], services: {} },
    name: 'shop',
    file: '/products/shop.mts',
    repoDir,
    composeFiles: ['compose.yaml'],
    projectName: 'shop',
    registry: reg,
    services: {
      web: service('web', { context: 'web' }),
      api: service('api', { context: 'api' }),
      worker: service('worker', { context: 'worker', secrets: { npm_token: 'NPM_TOKEN_UNIT' } }),
    },
    stateDir: join(repoDir, '.state'),
  } as unknown as Product;
}

const settings = { env: { NPM_TOKEN_UNIT: SECRET } } as unknown as Settings;
const options = (extra: Partial<BuildOptions> = {}): BuildOptions => ({ push: true, cache: 'none', parallel: 2, ...extra });

function gitRules(status = ''): Rule[] {
  return [
    [/rev-parse --verify HEAD\^\{commit\}$/, { stdout: `${SHA}\n` }],
    [/ status --porcelain/, { stdout: status }],
    [/ rev-parse HEAD:\.\/(\w+)$/, (argv) => ({ stdout: `tree-of-${argv.at(-1)?.slice(7)}\n` })],
    [/ diff HEAD --binary/, { stdout: 'diff --git a/x b/x\n' }],
    [/ ls-files --others/, { stdout: 'new.txt\0' }],
    [/^docker info/, { stdout: '20.10.24|/var/lib/docker\n' }],
  ];
}

const CLIENTS_NO_BUILDX: Rule[] = [
  [/^docker buildx version$/, { exitCode: 1, stderr: "docker: 'buildx' is not a docker command." }],
  [/^docker version --format/, { stdout: '28.2.2\n' }],
  [/^\/usr\/bin\/docker buildx version$/, { exitCode: 1 }],
  [/^\/usr\/bin\/docker version --format/, { stdout: '20.10.24+dfsg1\n' }],
];

async function keyOf(service: string): Promise<string> {
  const image = {
    service,
    sources: [service],
    dockerfile: join(repoDir, service, 'Dockerfile'),
    args: {},
    secrets: service === 'worker' ? { npm_token: 'NPM_TOKEN_UNIT' } : {},
  };
  const key = await sourceKey(fakeRunner(gitRules()), repoDir, image as unknown as ImageBuild);
  if (!key) throw new Error('no key');
  return key;
}

describe('the build pipeline', () => {
  let product: Product;
  beforeEach(async () => {
    product = makeProduct();
    registry.manifests.clear();
    registry.blobs.clear();
    registry.requests = [];
    // web: this release is in the registry; api: :latest has api's sources; worker: new.
    registry.image('shop-web', SHA, {}, ['sha256:base', 'sha256:web1']);
    registry.image('shop-api', 'latest', { 'berth.source': await keyOf('api') }, ['sha256:base', 'sha256:api1']);
    registry.image('shop-worker', 'latest', { 'berth.source': 'older-sources' }, ['sha256:base', 'sha256:worker0']);
  });

  const pushRule: Rule = [
    /^docker push --quiet /,
    (argv) => {
      const [repo = '', tag = ''] = (argv.at(-1) ?? '').slice(registry.address.length + 1).split(':');
      registry.image(repo, tag, {}, ['sha256:base', `sha256:${repo}-new`]);
      return {};
    },
  ];

  it('builds only what the registry lacks, tags unchanged images again, pushes only the built one', async () => {
    const runner = fakeRunner([
      ...gitRules(),
      ...CLIENTS_NO_BUILDX,
      [/^\/usr\/bin\/docker build /, { stderr: '#1 [internal] load build definition from Dockerfile\n#1 DONE 0.0s\n' }],
      pushRule,
    ]);
    const ui = recordingUi();
    const ctx = createBuildContext(product, settings, runner, ui, options());
    ctx.dockerClients = ['/usr/local/bin/docker', '/usr/bin/docker'];
    const result = await buildProduct(ctx);

    expect(result.images).toMatchObject({
      web: { action: 'present' },
      api: { action: 'reused', digest: registry.manifests.get('shop-api:latest')?.digest },
      worker: { action: 'built', builtWith: 'buildkit' },
    });
    expect(registry.manifests.get(`shop-api:${SHA}`)?.body).toBe(registry.manifests.get('shop-api:latest')?.body);
    expect(registry.requests).toContain(`PUT /v2/shop-api/manifests/${SHA}`);
    expect(result.builder).toEqual({ kind: 'buildkit', docker: '/usr/bin/docker', version: '20.10.24+dfsg1' });
    expect(ui.lines).toContain(
      '  buildx is not installed: BuildKit `docker build` per image with /usr/bin/docker 20.10.24+dfsg1 (/usr/local/bin/docker 28.2.2 has no buildx), then docker push',
    );

    const builds = runner.calls.filter((c) => c.argv[1] === 'build');
    expect(builds).toHaveLength(1);
    const [worker] = builds;
    expect(worker?.argv).toEqual([
      '/usr/bin/docker',
      'build',
      '--progress',
      'plain',
      '--file',
      join(repoDir, 'worker', 'Dockerfile'),
      '--tag',
      `${registry.address}/shop-worker:${SHA}`,
      '--tag',
      `${registry.address}/shop-worker:latest`,
      '--build-arg',
      `BERTH_SHA=${SHA}`,
      '--build-arg',
      expect.stringMatching(/^BUILD_TIME=\d{4}-/),
      '--label',
      `org.opencontainers.image.revision=${SHA}`,
      '--label',
      `berth.source=${await keyOf('worker')}`,
      '--label',
      expect.stringMatching(/^berth\.source\.files=[0-9a-f]{16}$/),
      '--label',
      'berth.source.secrets=npm_token',
      '--secret',
      'id=npm_token,env=NPM_TOKEN_UNIT',
      join(repoDir, 'worker'),
    ]);
    expect(worker?.env).toEqual({ DOCKER_BUILDKIT: '1', COMPOSE_DOCKER_CLI_BUILD: '1' });
    expect(runner.calls.filter((c) => c.argv[1] === 'push').map((c) => c.argv.at(-1))).toEqual([
      `${registry.address}/shop-worker:${SHA}`,
      `${registry.address}/shop-worker:latest`,
    ]);
    expect(JSON.stringify(runner.calls)).not.toContain(SECRET);
  });

  it('with buildx, bakes the images to build from one definition and pushes with it', async () => {
    let definition:
      { group: { default: { targets: string[] } }; target: Record<string, { tags: string[]; secret?: string[] }> } | undefined;
    const runner = fakeRunner([
      ...gitRules(),
      [/^docker buildx version$/, { stdout: 'github.com/docker/buildx v0.12.1\n' }],
      [/^docker version --format/, { stdout: '25.0.3\n' }],
      [
        /^docker buildx bake /,
        (argv) => {
          const file = argv[argv.indexOf('--file') + 1] ?? '';
          definition = JSON.parse(readFileSync(file, 'utf8'));
          const metadata = argv[argv.indexOf('--metadata-file') + 1] ?? '';
          const stored = registry.image('shop-worker', SHA, {}, ['sha256:base', 'sha256:baked']);
          registry.image('shop-worker', 'latest', {}, ['sha256:base', 'sha256:baked']);
          writeFileSync(metadata, JSON.stringify({ worker: { 'containerimage.digest': stored.digest } }));
          return {};
        },
      ],
    ]);
    const ctx = createBuildContext(product, settings, runner, recordingUi(), options({ cache: 'registry' }));
    ctx.dockerClients = ['/usr/bin/docker'];
    const result = await buildProduct(ctx);
    expect(definition?.group.default.targets).toEqual(['worker']);
    expect(definition?.target.worker?.secret).toEqual(['id=npm_token,env=NPM_TOKEN_UNIT']);
    const bake = runner.calls.find((c) => c.argv[2] === 'bake');
    expect(bake?.argv.slice(0, 8)).toEqual([
      'docker',
      'buildx',
      'bake',
      '--file',
      expect.stringMatching(/bake\.json$/),
      '--progress',
      'plain',
      '--metadata-file',
    ]);
    expect(bake?.argv.at(-1)).toBe('--push');
    expect(runner.calls.filter((c) => c.argv[1] === 'build' || c.argv[1] === 'push')).toEqual([]);
    expect(result.images.worker).toMatchObject({
      action: 'built',
      builtWith: 'bake',
      digest: registry.manifests.get(`shop-worker:${SHA}`)?.digest,
    });
  });

  it("with buildx's docker driver, says in one line that it cannot export a registry cache and bakes with the cache inline", async () => {
    const caches: unknown[] = [];
    const runner = fakeRunner([
      ...gitRules(),
      [/^docker buildx version$/, { stdout: 'github.com/docker/buildx v0.38.2\n' }],
      [/^docker version --format/, { stdout: '20.10.24+dfsg1\n' }],
      [
        /^docker buildx bake /,
        (argv) => {
          const definition = JSON.parse(readFileSync(argv[argv.indexOf('--file') + 1] ?? '', 'utf8'));
          caches.push(definition.target.worker['cache-to']);
          if (caches.length === 1)
            return {
              exitCode: 1,
              stderr:
                'ERROR: Cache export is not supported for the docker driver.\nSwitch to a different driver, or turn on the containerd image store, and try again.\n',
            };
          const stored = registry.image('shop-worker', SHA, {}, ['sha256:base', 'sha256:inline']);
          registry.image('shop-worker', 'latest', {}, ['sha256:base', 'sha256:inline']);
          writeFileSync(
            argv[argv.indexOf('--metadata-file') + 1] ?? '',
            JSON.stringify({ worker: { 'containerimage.digest': stored.digest } }),
          );
          return {};
        },
      ],
    ]);
    const ui = recordingUi();
    const ctx = createBuildContext(product, settings, runner, ui, options({ cache: 'registry' }));
    ctx.dockerClients = ['/usr/bin/docker'];
    const result = await buildProduct(ctx);
    expect(caches).toEqual([[`type=registry,ref=${registry.address}/shop-worker:buildcache,mode=max`], ['type=inline']]);
    expect(ui.lines.filter((l) => /cannot export a registry cache/.test(l))).toHaveLength(1);
    expect(ui.lines.some((l) => /worker: built with bake and pushed/.test(l))).toBe(true);
    expect(result.images.worker).toMatchObject({
      action: 'built',
      builtWith: 'bake',
      digest: registry.manifests.get(`shop-worker:${SHA}`)?.digest,
    });
  });

  it('dry run: reads the registry, prints the exact commands, builds and tags nothing', async () => {
    const runner = fakeRunner([...gitRules(), ...CLIENTS_NO_BUILDX], true);
    const ui = recordingUi();
    const ctx = createBuildContext(product, settings, runner, ui, options({ dryRun: true }));
    ctx.dockerClients = ['/usr/local/bin/docker', '/usr/bin/docker'];
    const result = await buildProduct(ctx);
    expect(result.result).toBe('dry-run');
    expect(result.images).toMatchObject({ web: { action: 'present' }, api: { action: 'reused' }, worker: { action: 'planned' } });
    expect(runner.calls.filter((c) => c.mode === 'run')).toEqual([]);
    expect(registry.requests.filter((r) => r.startsWith('PUT'))).toEqual([]);
    expect(
      ui.lines.some((l) => l.startsWith(`  | DOCKER_BUILDKIT=1 COMPOSE_DOCKER_CLI_BUILD=1 /usr/bin/docker build --progress plain`)),
    ).toBe(true);
    expect(ui.lines).toContain(`  | docker push --quiet ${registry.address}/shop-worker:${SHA}`);
    expect(ui.lines.some((l) => l.startsWith('  skipped: dry run: would tag'))).toBe(true);
  });

  it('runs the beforeBuild hooks in the checkout with the build facts and its secrets, once the registry said what to build', async () => {
    product.def.beforeBuild = [{ name: 'packages', command: ['./scripts/check.sh'], secrets: ['NPM_TOKEN_UNIT'] }];
    const runner = fakeRunner([
      ...gitRules(),
      ...CLIENTS_NO_BUILDX,
      [/^\.\/scripts\/check\.sh$/, {}],
      [/^\/usr\/bin\/docker build /, {}],
      pushRule,
    ]);
    const ctx = createBuildContext(product, settings, runner, recordingUi(), options());
    ctx.dockerClients = ['/usr/local/bin/docker', '/usr/bin/docker'];
    const result = await buildProduct(ctx);
    const hook = runner.calls.find((c) => c.argv[0] === './scripts/check.sh');
    expect(hook?.env).toEqual({
      BERTH_PRODUCT: 'shop',
      BERTH_RELEASE: SHA,
      BERTH_SHA: SHA,
      BERTH_CHANGED: 'worker',
      BERTH_WHO: expect.any(String),
      BERTH_KIND: 'build',
      NPM_TOKEN_UNIT: SECRET,
    });
    const order = runner.calls.map((c) => c.argv.slice(0, 2).join(' '));
    expect(order.indexOf('./scripts/check.sh')).toBeLessThan(order.indexOf('/usr/bin/docker build'));
    expect(result.hooks).toEqual([{ point: 'beforeBuild', name: 'packages', result: 'ok', exitCode: 0, ms: 1 }]);
    expect(result.durationsMs).toHaveProperty('beforeBuild');
  });

  it('a failing beforeBuild hook stops the build with its name and last line: nothing built, nothing pushed', async () => {
    product.def.beforeBuild = [{ name: 'packages', command: ['./scripts/check.sh'], secrets: ['NPM_TOKEN_UNIT'] }];
    const runner = fakeRunner([
      ...gitRules(),
      [/^\.\/scripts\/check\.sh$/, { exitCode: 4, stderr: `token ${SECRET}\n@acme/ui 2.1.0 is not published\n` }],
    ]);
    const ctx = createBuildContext(product, settings, runner, recordingUi(), options());
    const failure = await buildProduct(ctx).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(EngineError);
    expect((failure as EngineError).message).toBe(
      "beforeBuild 'packages' exited 4: @acme/ui 2.1.0 is not published; nothing was built or pushed",
    );
    expect((failure as EngineError).details).toEqual(['token [REDACTED]', '@acme/ui 2.1.0 is not published']);
    expect(runner.calls.filter((c) => c.argv[1] === 'build' || c.argv[1] === 'push')).toEqual([]);
    expect(registry.requests.filter((r) => r.startsWith('PUT'))).toEqual([]);
  });

  it('beforeBuild hooks do not run when the registry has every image, and dry run prints their argv', async () => {
    product.def.beforeBuild = [{ name: 'packages', command: ['./scripts/check.sh', '--all'] }];
    const dry = fakeRunner([...gitRules(), ...CLIENTS_NO_BUILDX], true);
    const ui = recordingUi();
    const dryCtx = createBuildContext(product, settings, dry, ui, options({ dryRun: true }));
    dryCtx.dockerClients = ['/usr/local/bin/docker', '/usr/bin/docker'];
    await buildProduct(dryCtx);
    expect(ui.lines).toContain(`  skipped: dry run: would run beforeBuild packages: ./scripts/check.sh --all (in ${repoDir})`);
    expect(dry.calls.filter((c) => c.argv[0] === './scripts/check.sh')).toEqual([]);

    const runner = fakeRunner([...gitRules()]);
    const done = recordingUi();
    const ctx = createBuildContext(product, settings, runner, done, options({ only: ['web'] }));
    const result = await buildProduct(ctx);
    expect(result.images).toMatchObject({ web: { action: 'present' } });
    expect(done.lines).toContain('  skipped: nothing to build');
    expect(runner.calls.filter((c) => c.argv[0] === './scripts/check.sh')).toEqual([]);
  });

  it('refuses secrets on a machine with only the legacy builder, before building anything', async () => {
    const runner = fakeRunner([
      ...gitRules(),
      [/^docker buildx version$/, { exitCode: 1 }],
      [/^docker version --format/, { stdout: '28.2.2\n' }],
    ]);
    const ctx = createBuildContext(product, settings, runner, recordingUi(), options());
    ctx.dockerClients = ['/usr/local/bin/docker'];
    const failure = await buildProduct(ctx).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ConfigError);
    expect((failure as ConfigError).line).toBe(
      'worker needs BuildKit secrets, which the legacy builder cannot pass: install the buildx plugin (Debian: docker-buildx; Docker: docker-buildx-plugin) on this builder',
    );
    expect(runner.calls.filter((c) => c.argv[1] === 'build')).toEqual([]);
  });

  it('says what differs from :latest: the files git names, the build arg, never "sources" for an arg', async () => {
    const OLD = 'b'.repeat(40);
    const partsOf = async (service: string, args: Record<string, string>, runner = fakeRunner(gitRules())) => {
      const image = { service, sources: [service], dockerfile: join(repoDir, service, 'Dockerfile'), args, secrets: {} };
      const parts = await sourceParts(runner, repoDir, image as unknown as ImageBuild);
      if (!parts) throw new Error('no parts');
      return parts;
    };
    const oldTrees = fakeRunner([[/ rev-parse HEAD:\.\/(\w+)$/, (argv) => ({ stdout: `old-tree-of-${argv.at(-1)?.slice(7)}\n` })]]);
    // api: its files changed since :latest; web: only a build arg (the release is not there yet).
    registry.manifests.clear();
    registry.image(
      'shop-api',
      'latest',
      { ...sourceLabels(await partsOf('api', {}, oldTrees)), 'org.opencontainers.image.revision': OLD },
      ['sha256:api1'],
    );
    registry.image(
      'shop-web',
      'latest',
      { ...sourceLabels(await partsOf('web', { VERSION: 'old' })), 'org.opencontainers.image.revision': OLD },
      ['sha256:web1'],
    );
    (product.services.web as unknown as { build: object }).build = { context: 'web', args: { VERSION: 'new' } };
    const runner = fakeRunner(
      [
        ...gitRules(),
        ...CLIENTS_NO_BUILDX,
        [new RegExp(` diff --name-only --relative -z ${OLD} ${SHA} -- api$`), { stdout: 'api/app.js\0api/lib/db.js\0' }],
      ],
      true,
    );
    const ui = recordingUi();
    const ctx = createBuildContext(product, settings, runner, ui, options({ dryRun: true, only: ['web', 'api'] }));
    ctx.dockerClients = ['/usr/local/bin/docker', '/usr/bin/docker'];
    const result = await buildProduct(ctx);
    expect(result.images.api).toMatchObject({ action: 'planned', reason: 'api/app.js and api/lib/db.js changed' });
    expect(result.images.web).toMatchObject({ action: 'planned', reason: 'build arg VERSION differs' });
    expect(ui.lines).toContain('  web: build (build arg VERSION differs)');
    // git is asked only where the files differ.
    expect(runner.calls.filter((c) => c.argv.includes('--name-only')).map((c) => c.argv.at(-1))).toEqual(['api']);

    // A clone without :latest's commit says so instead of naming files.
    const shallow = fakeRunner(
      [...gitRules(), ...CLIENTS_NO_BUILDX, [/ diff --name-only /, { exitCode: 128, stderr: `fatal: bad object ${OLD}` }]],
      true,
    );
    const again = createBuildContext(product, settings, shallow, recordingUi(), options({ dryRun: true, only: ['api'] }));
    again.dockerClients = ['/usr/bin/docker'];
    expect((await buildProduct(again)).images.api?.reason).toBe(
      `files under api changed since :latest (its commit ${OLD.slice(0, 12)} is not in this clone; fetch more history to name the files)`,
    );
  });

  it('refuses a dirty tree; --allow-dirty tags <sha>-dirty-<hash>, never :latest, and reuses nothing', async () => {
    const dirty = fakeRunner([...gitRules(' M web/app.js\n?? new.txt\n'), ...CLIENTS_NO_BUILDX]);
    const refused = await buildProduct(createBuildContext(product, settings, dirty, recordingUi(), options())).catch(
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(UsageError);
    expect((refused as UsageError).line).toMatch(
      /has uncommitted changes \(2 files: web\/app\.js, new\.txt\).*: commit them, or pass --allow-dirty/,
    );

    const runner = fakeRunner([
      ...gitRules(' M web/app.js\n'),
      ...CLIENTS_NO_BUILDX,
      [/^\/usr\/bin\/docker build /, { stderr: '#1 DONE\n' }],
      pushRule,
    ]);
    const ctx = createBuildContext(product, settings, runner, recordingUi(), options({ allowDirty: true, only: ['api', 'worker'] }));
    ctx.dockerClients = ['/usr/local/bin/docker', '/usr/bin/docker'];
    const result = await buildProduct(ctx);
    expect(result.tag).toMatch(new RegExp(`^${SHA}-dirty-[0-9a-f]{12}$`));
    expect(Object.keys(result.images)).toEqual(['api', 'worker']);
    expect(result.images).toMatchObject({ api: { action: 'built' }, worker: { action: 'built' } });
    expect(runner.calls.filter((c) => c.argv[1] === 'push').map((c) => c.argv.at(-1)?.split(':').at(-1))).toEqual([result.tag, result.tag]);
    expect(registry.requests.some((r) => r.includes('/manifests/latest'))).toBe(false);
  });
});

describe('the builder on this machine', () => {
  it('prefers bake, then a client with BuildKit of its own, then the legacy builder', async () => {
    const bake = await detectBuilder(
      fakeRunner([
        [/^docker buildx version$/, { stdout: 'github.com/docker/buildx v0.12.1 abc\n' }],
        [/version --format/, { stdout: '25.0.0' }],
      ]),
      ['/usr/bin/docker'],
    );
    expect(bake).toMatchObject({ kind: 'bake', docker: 'docker', version: 'github.com/docker/buildx v0.12.1 abc' });
    const old = await detectBuilder(
      fakeRunner([
        [/^docker buildx version$/, { exitCode: 1 }],
        [/^docker version/, { stdout: '20.10.24+dfsg1' }],
      ]),
      ['/usr/bin/docker'],
    );
    expect(old).toMatchObject({ kind: 'buildkit', docker: 'docker' });
    const legacy = await detectBuilder(
      fakeRunner([
        [/buildx version$/, { exitCode: 1 }],
        [/^docker version/, { stdout: '28.2.2' }],
      ]),
      ['/usr/local/bin/docker'],
    );
    expect(legacy).toMatchObject({ kind: 'legacy', docker: 'docker', version: '28.2.2' });
    expect(legacy.summary).toBe('buildx is not installed and docker 28.2.2 has no BuildKit of its own: the legacy builder per image');
  });
});

describe('deploy --build-on-vm', () => {
  function vmContext(dryRun: boolean, runner: Runner): DeployContext {
    const product = {
      ...makeProduct(),
      def: {
        name: 'shop',
        repo: repoDir,
        composeFiles: ['compose.yaml'],
        buildComposeFiles: ['compose.yaml', 'compose.build.yaml'],
        services: {},
      },
    } as unknown as Product;
    const ctx = createDeployContext(product, settings, runner, recordingUi(), { tag: SHA, buildOnVm: true, kind: 'build-on-vm', dryRun });
    const flavour = { name: 'v1' as const, bin: ['docker-compose'], version: '1.29.2' };
    ctx.found = {
      flavour,
      project: { flavour, name: 'shop', directory: repoDir, files: [join(repoDir, 'compose.yaml')] },
      compose: { services: {}, top: {} },
    };
    ctx.plan = { web: { action: 'replace', reason: 'x' }, api: { action: 'start', reason: 'x' }, worker: { action: 'keep', reason: 'x' } };
    return ctx;
  }
  const view =
    'services:\n  web:\n    build:\n      context: /src/web\n  api:\n    image: x\n  worker:\n    build:\n      context: /src/worker\n';
  const rules: Rule[] = [[/^docker-compose .* config$/, { stdout: view }], ...CLIENTS_NO_BUILDX];

  it('builds the selected services that have build: with the development view, BuildKit pinned', async () => {
    const plan = await planBuildOnVm(vmContext(false, fakeRunner(rules)), ['/usr/local/bin/docker', '/usr/bin/docker']);
    expect(plan.services).toEqual(['web']);
    expect(plan.argv).toEqual([
      'docker-compose',
      '--project-name',
      'shop',
      '--project-directory',
      repoDir,
      '-f',
      join(repoDir, 'compose.yaml'),
      '-f',
      join(repoDir, 'compose.build.yaml'),
      'build',
      '--build-arg',
      `BERTH_SHA=${SHA}`,
      '--build-arg',
      expect.stringMatching(/^BUILD_TIME=/),
      'web',
    ]);
    expect(plan.env).toMatchObject({
      IMAGE_TAG: SHA,
      DOCKER_BUILDKIT: '1',
      COMPOSE_DOCKER_CLI_BUILD: '1',
      BERTH_SHA: SHA,
      PATH: expect.stringMatching(/^\/usr\/bin:/),
    });
  });

  it('the pull step builds instead of pulling, and says what it would run under dry run', async () => {
    const dry = vmContext(true, fakeRunner(rules));
    expect(typeof pull.title === 'function' ? pull.title(dry) : pull.title).toBe('build images on this VM (--build-on-vm)');
    const reason = await pull.skip?.(dry);
    expect(reason).toMatch(
      /^dry run: would run .*DOCKER_BUILDKIT=1 COMPOSE_DOCKER_CLI_BUILD=1 docker-compose .* build --build-arg BERTH_SHA=c+ --build-arg BUILD_TIME=\S+ web \(/,
    );

    const runner = fakeRunner([...rules, [/^docker-compose .* build /, { stdout: '#1 [internal] load build definition\n' }]]);
    const ctx = vmContext(false, runner);
    expect(await pull.skip?.(ctx)).toBe(false);
    await pull.run(ctx);
    const ran = runner.calls.filter((c) => c.mode === 'run');
    expect(ran).toHaveLength(1);
    expect(ran[0]?.argv.slice(-6)).toEqual([
      'build',
      '--build-arg',
      `BERTH_SHA=${SHA}`,
      '--build-arg',
      expect.stringMatching(/^BUILD_TIME=/),
      'web',
    ]);
    expect(ran[0]?.env).toMatchObject({ DOCKER_BUILDKIT: '1', IMAGE_TAG: SHA });
    expect(runner.calls.some((c) => c.argv.includes('pull'))).toBe(false);
  });
});
