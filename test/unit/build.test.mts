// The pure parts of building off the VM: the bake definition and every argv, the merge of build
// sections, tags and labels, registry auth parsing, and the CLI's input checks. No I/O but temp files.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bakeDefinition, bakeDigests, cacheExportRefused } from '../../lib/build/bake.mts';
import { builderEnv, builderFromOutput, majorVersion } from '../../lib/build/builder.mts';
import {
  buildInputs,
  missingSecrets,
  planImages,
  productionViewErrors,
  type ImageBuild,
  type Release,
  type SourceParts,
} from '../../lib/build/plan.mts';
import { summarize, type BuildResult } from '../../lib/build/result.mts';
import { mapLimit } from '../../lib/core/pool.mts';
import { bakeArgv, composeBuildWithArgs, dockerBuildArgv } from '../../lib/commands/buildx.mts';
import type { Product } from '../../lib/config/load.mts';
import { parseBuildArgs, parseCache, parseParallel } from '../../lib/ops/build.mts';
import { ConfigError, UsageError } from '../../lib/core/errors.mts';
import { parseChallenge, registryApiBase, registryCredentials } from '../../lib/registry/client.mts';
import { checkComposeView } from '../../lib/deploy/steps/preflight.mts';

const REG = '127.0.0.1:5999';
const SHA = 'a'.repeat(40);
const release: Release = { sha: SHA, tag: SHA, dirty: false, time: '2026-11-22T10:00:00.000Z' };
const dirty: Release = { ...release, tag: `${SHA}-dirty-0123456789ab`, dirty: true };
const SOURCE: SourceParts = { key: 'k-web', files: 'f1', args: { BASE: 'a1' }, target: '', secrets: ['npm_token'] };

const dir = mkdtempSync(join(tmpdir(), 'berth-build-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const web: ImageBuild = {
  service: 'web',
  repository: `${REG}/shop-web`,
  context: '/src/shop/web',
  dockerfile: '/src/shop/web/Dockerfile',
  args: { BASE: 'node:22' },
  secrets: { npm_token: 'GITEA_NPM_TOKEN' },
  sources: ['web'],
};
const api: ImageBuild = {
  service: 'api',
  repository: `${REG}/shop-api`,
  context: '/src/shop',
  dockerfile: '/src/shop/docker/api.Dockerfile',
  target: 'runtime',
  args: {},
  secrets: {},
  sources: ['', 'docker/api.Dockerfile'],
};

describe('the bake definition', () => {
  it('has one target per image, tags :sha and :latest, release args, labels and secrets by name only', () => {
    const definition = bakeDefinition(
      [
        { image: web, source: SOURCE },
        { image: api, source: undefined },
      ],
      release,
      { cache: 'none' },
    );
    expect(definition).toEqual({
      group: { default: { targets: ['web', 'api'] } },
      target: {
        web: {
          context: '/src/shop/web',
          dockerfile: 'Dockerfile',
          tags: [`${REG}/shop-web:${SHA}`, `${REG}/shop-web:latest`],
          args: { BASE: 'node:22', BERTH_SHA: SHA, BUILD_TIME: release.time },
          labels: {
            'org.opencontainers.image.revision': SHA,
            'berth.source': 'k-web',
            'berth.source.files': 'f1',
            'berth.source.args': 'BASE=a1',
            'berth.source.secrets': 'npm_token',
          },
          secret: ['id=npm_token,env=GITEA_NPM_TOKEN'],
        },
        api: {
          context: '/src/shop',
          dockerfile: 'docker/api.Dockerfile',
          tags: [`${REG}/shop-api:${SHA}`, `${REG}/shop-api:latest`],
          args: { BERTH_SHA: SHA, BUILD_TIME: release.time },
          labels: { 'org.opencontainers.image.revision': SHA },
          target: 'runtime',
        },
      },
    });
  });

  it('adds registry cache-from and cache-to when the cache is the registry', () => {
    const target = bakeDefinition([{ image: web, source: SOURCE }], release, { cache: 'registry' }).target.web;
    expect(target?.['cache-from']).toEqual([`type=registry,ref=${REG}/shop-web:buildcache`]);
    expect(target?.['cache-to']).toEqual([`type=registry,ref=${REG}/shop-web:buildcache,mode=max`]);
  });

  it('keeps the registry cache inline, read back from :latest, when the builder cannot export one', () => {
    const target = bakeDefinition([{ image: web, source: SOURCE }], release, { cache: 'registry', cacheExport: 'inline' }).target.web;
    expect(target?.['cache-from']).toEqual([`type=registry,ref=${REG}/shop-web:latest`]);
    expect(target?.['cache-to']).toEqual(['type=inline']);
    const none = bakeDefinition([{ image: web, source: SOURCE }], release, { cache: 'none', cacheExport: 'inline' }).target.web;
    expect(none).not.toHaveProperty('cache-to');
  });

  it("recognises buildx's refusal to export a cache with the docker driver", () => {
    expect(
      cacheExportRefused(
        'ERROR: Cache export is not supported for the docker driver.\nSwitch to a different driver, or turn on the containerd image store, and try again.',
      ),
    ).toBe(true);
    expect(cacheExportRefused('ERROR: failed to solve: process "/bin/sh -c make" did not complete successfully: exit code: 2')).toBe(false);
  });

  it('never tags a dirty build :latest, and names the dirty tag in BERTH_SHA and the revision label', () => {
    const target = bakeDefinition([{ image: web, source: undefined }], dirty, { cache: 'none' }).target.web;
    expect(target?.tags).toEqual([`${REG}/shop-web:${dirty.tag}`]);
    expect(target?.args.BERTH_SHA).toBe(dirty.tag);
    expect(target?.labels).toEqual({ 'org.opencontainers.image.revision': dirty.tag });
  });

  it('holds no secret value even when the variable is set', () => {
    process.env.GITEA_NPM_TOKEN_UNIT = 'npm-value-that-must-not-leak';
    const image = { ...web, secrets: { npm_token: 'GITEA_NPM_TOKEN_UNIT' } };
    const text = JSON.stringify(bakeDefinition([{ image, source: SOURCE }], release, { cache: 'registry' }));
    expect(text).toContain('env=GITEA_NPM_TOKEN_UNIT');
    expect(text).not.toContain('npm-value-that-must-not-leak');
    delete process.env.GITEA_NPM_TOKEN_UNIT;
  });

  it('reads pushed digests from the bake metadata file', () => {
    expect(bakeDigests(JSON.stringify({ web: { 'containerimage.digest': 'sha256:1' }, api: {}, 'buildx.build.warnings': null }))).toEqual({
      web: 'sha256:1',
    });
    expect(bakeDigests('')).toEqual({});
  });
});

describe('build argv', () => {
  const image = {
    context: '/src/web',
    dockerfile: '/src/web/Dockerfile',
    tags: ['r/web:1', 'r/web:latest'],
    args: { A: '1' },
    labels: { L: 'x' },
    secrets: { npm: 'NPM_TOKEN' },
  };

  it('bake pushes, or loads without --push, and writes metadata', () => {
    expect(bakeArgv('docker', '/t/bake.json', { push: true, metadataFile: '/t/m.json' })).toEqual([
      'docker',
      'buildx',
      'bake',
      '--file',
      '/t/bake.json',
      '--progress',
      'plain',
      '--metadata-file',
      '/t/m.json',
      '--push',
    ]);
    expect(bakeArgv('/usr/bin/docker', 'b.json', { push: false })).toEqual([
      '/usr/bin/docker',
      'buildx',
      'bake',
      '--file',
      'b.json',
      '--progress',
      'plain',
      '--load',
    ]);
  });

  it('BuildKit docker build passes secrets as --secret id=,env= and plain progress', () => {
    expect(dockerBuildArgv('/usr/bin/docker', 'buildkit', { ...image, target: 'prod', cacheFrom: ['r/web:latest'] })).toEqual([
      '/usr/bin/docker',
      'build',
      '--progress',
      'plain',
      '--file',
      '/src/web/Dockerfile',
      '--tag',
      'r/web:1',
      '--tag',
      'r/web:latest',
      '--target',
      'prod',
      '--build-arg',
      'A=1',
      '--label',
      'L=x',
      '--secret',
      'id=npm,env=NPM_TOKEN',
      '--cache-from',
      'r/web:latest',
      '/src/web',
    ]);
  });

  it('the legacy builder gets neither secrets nor --progress, which it does not know', () => {
    const argv = dockerBuildArgv('docker', 'legacy', image);
    expect(argv).toEqual([
      'docker',
      'build',
      '--file',
      '/src/web/Dockerfile',
      '--tag',
      'r/web:1',
      '--tag',
      'r/web:latest',
      '--build-arg',
      'A=1',
      '--label',
      'L=x',
      '/src/web',
    ]);
  });

  it('compose build for --build-on-vm carries the release args', () => {
    const project = {
      flavour: { name: 'v1' as const, bin: ['docker-compose'], version: '1.29.2' },
      name: 'shop',
      directory: '/srv/shop',
      files: ['/srv/shop/a.yaml', '/srv/shop/b.yaml'],
    };
    expect(composeBuildWithArgs(project, ['web'], { BERTH_SHA: SHA })).toEqual([
      'docker-compose',
      '--project-name',
      'shop',
      '--project-directory',
      '/srv/shop',
      '-f',
      '/srv/shop/a.yaml',
      '-f',
      '/srv/shop/b.yaml',
      'build',
      '--build-arg',
      `BERTH_SHA=${SHA}`,
      'web',
    ]);
  });

  it('pins BuildKit unless only the legacy builder exists', () => {
    expect(builderEnv({ kind: 'buildkit' })).toEqual({ DOCKER_BUILDKIT: '1', COMPOSE_DOCKER_CLI_BUILD: '1' });
    expect(builderEnv({ kind: 'bake' })).toEqual({ DOCKER_BUILDKIT: '1', COMPOSE_DOCKER_CLI_BUILD: '1' });
    expect(builderEnv({ kind: 'legacy' })).toMatchObject({ DOCKER_BUILDKIT: '0' });
  });

  it('tells BuildKit output from the legacy builder', () => {
    expect(builderFromOutput('#1 [internal] load build definition from Dockerfile\n#1 DONE 0.0s')).toBe('buildkit');
    expect(builderFromOutput('Sending build context to Docker daemon  3kB\nStep 1/4 : FROM x')).toBe('legacy');
    expect(builderFromOutput('')).toBeUndefined();
    expect(majorVersion('20.10.24+dfsg1')).toBe(20);
    expect(majorVersion('28.2.2')).toBe(28);
  });
});

const product = (services: Record<string, object>, repoDir = '/src/shop'): Product =>
  ({
    name: 'shop',
    repoDir,
    composeFiles: ['compose.yaml'],
    services: Object.fromEntries(
      Object.entries(services).map(([name, def]) => [name, { name, kind: 'http', repository: `${REG}/shop-${name}`, ...def }]),
    ),
  }) as unknown as Product;

describe('planning images from build sections', () => {
  it('merges the compose development view under the product, and --build-arg over both', () => {
    const images = planImages(
      product({
        web: { build: { context: 'web', args: { NODE_ENV: 'production' }, secrets: { npm_token: 'GITEA_NPM_TOKEN' }, paths: ['shared'] } },
        api: {},
        worker: { build: { context: '.', dockerfile: 'docker/worker.Dockerfile', target: 'run' } },
        db: { kind: 'stateful' },
      }),
      {
        web: { build: { context: '/src/shop/web', args: { BASE: 'node:22', NODE_ENV: 'development', EMPTY: null } } },
        api: { build: '/src/shop/api' },
        worker: { build: { context: '/elsewhere', args: ['A=1', 'B'] } },
      },
      { buildArgs: { BASE: 'berth-demo/busybox:local' } },
    );
    expect(images).toEqual([
      {
        service: 'web',
        repository: `${REG}/shop-web`,
        context: '/src/shop/web',
        dockerfile: '/src/shop/web/Dockerfile',
        args: { BASE: 'berth-demo/busybox:local', NODE_ENV: 'production' },
        secrets: { npm_token: 'GITEA_NPM_TOKEN' },
        sources: ['web', 'shared'],
      },
      {
        service: 'api',
        repository: `${REG}/shop-api`,
        context: '/src/shop/api',
        dockerfile: '/src/shop/api/Dockerfile',
        args: { BASE: 'berth-demo/busybox:local' },
        secrets: {},
        sources: ['api'],
      },
      {
        service: 'worker',
        repository: `${REG}/shop-worker`,
        context: '/src/shop',
        dockerfile: '/src/shop/docker/worker.Dockerfile',
        target: 'run',
        args: { A: '1', BASE: 'berth-demo/busybox:local' },
        secrets: {},
        sources: [''],
      },
    ]);
  });

  it('keeps a Dockerfile outside the context among the sources, and honours --only', () => {
    const images = planImages(
      product({ web: { build: { context: 'web', dockerfile: '../docker/web.Dockerfile' } }, api: { build: { context: 'api' } } }),
      undefined,
      { only: ['web'] },
    );
    expect(images.map((i) => [i.service, i.dockerfile, i.sources])).toEqual([
      ['web', '/src/shop/docker/web.Dockerfile', ['web', 'docker/web.Dockerfile']],
    ]);
  });

  it('release args win over everything, and the revision label names the tag', () => {
    const inputs = buildInputs({ ...web, args: { BERTH_SHA: 'stale' } }, release, { ...SOURCE, args: {}, secrets: [], target: 'runtime' });
    expect(inputs.args).toEqual({ BERTH_SHA: SHA, BUILD_TIME: release.time });
    expect(inputs.labels).toEqual({
      'org.opencontainers.image.revision': SHA,
      'berth.source': 'k-web',
      'berth.source.files': 'f1',
      'berth.source.target': 'runtime',
    });
  });

  it('names each secret whose variable is not set', () => {
    expect(missingSecrets([web, api], { GITEA_NPM_TOKEN: '' })).toEqual(['web: secret npm_token reads GITEA_NPM_TOKEN, which is not set']);
    expect(missingSecrets([web], { GITEA_NPM_TOKEN: 'x' })).toEqual([]);
  });

  it('finds the production file and service that have build:', () => {
    const repo = join(dir, 'repo');
    mkdirSync(repo, { recursive: true });
    writeFileSync(join(repo, 'compose.yaml'), 'services:\n  web:\n    image: x\n  api:\n    image: y\n');
    writeFileSync(join(repo, 'compose.prod.yaml'), 'services:\n  api:\n    build: ./api\n');
    const p = { ...product({ web: {}, api: {} }, repo), composeFiles: ['compose.yaml', 'compose.prod.yaml'] };
    expect(productionViewErrors(p)).toEqual([
      'compose.prod.yaml: services.api has a build: section, but compose.prod.yaml is in composeFiles (the production view); move build: to a file in buildComposeFiles so the VM only pulls',
    ]);
    expect(productionViewErrors({ ...p, composeFiles: ['compose.yaml'] })).toEqual([]);
    // Deploy's preflight names the same file, not the whole list.
    const errors = checkComposeView({ product: { ...p, registry: REG }, options: { tag: 't1' } } as never, {
      services: { web: { image: `${REG}/shop-web:t1` }, api: { image: `${REG}/shop-api:t1`, build: { context: join(repo, 'api') } } },
    });
    expect(errors).toEqual([
      'services.api: has a build: section in the production view (compose.prod.yaml); move it to a development override so the VM only pulls',
    ]);
  });
});

describe('registry credentials and challenges', () => {
  it('takes both variables or neither', () => {
    expect(registryCredentials({})).toBeUndefined();
    expect(registryCredentials({ BERTH_REGISTRY_USER: 'ci', BERTH_REGISTRY_TOKEN: 't0k3n' })).toEqual({ username: 'ci', token: 't0k3n' });
    expect(() => registryCredentials({ BERTH_REGISTRY_USER: 'ci' })).toThrow(ConfigError);
    expect(lineOf(() => registryCredentials({ BERTH_REGISTRY_TOKEN: 'secret-value' }))).toBe(
      'BERTH_REGISTRY_TOKEN is set but BERTH_REGISTRY_USER is not: set BERTH_REGISTRY_USER too (in the environment or .env), or neither for an open registry',
    );
  });

  it('parses Bearer and Basic challenges', () => {
    expect(
      parseChallenge('Bearer realm="https://git.example.com/v2/token",service="container_registry",scope="repository:team/app:pull"'),
    ).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://git.example.com/v2/token', service: 'container_registry', scope: 'repository:team/app:pull' },
    });
    expect(parseChallenge('Basic realm="Registry"')).toEqual({ scheme: 'basic', params: { realm: 'Registry' } });
    expect(parseChallenge('')).toBeUndefined();
  });

  it('speaks HTTP to loopback registries only', () => {
    expect(registryApiBase('127.0.0.1:5000/team')).toBe('http://127.0.0.1:5000/v2/');
    expect(registryApiBase('localhost:5000')).toBe('http://localhost:5000/v2/');
    expect(registryApiBase('git.example.com/team')).toBe('https://git.example.com/v2/');
  });
});

/** The one line the CLI would print for the error `fn` throws. */
function lineOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError) return error.line;
    throw error;
  }
  throw new Error('did not throw');
}

describe('build CLI input', () => {
  it('parses --build-arg, --cache and --parallel, refusing bad values with the fix', () => {
    expect(parseBuildArgs(['BASE=busybox:local', 'EMPTY=', 'X=a=b'])).toEqual({ BASE: 'busybox:local', EMPTY: '', X: 'a=b' });
    expect(() => parseBuildArgs(['NOVALUE'])).toThrow(UsageError);
    expect(parseCache(undefined)).toBe('none');
    expect(parseCache('registry')).toBe('registry');
    expect(lineOf(() => parseCache('s3'))).toBe("cache mode 's3' is unknown: use --cache registry or --cache none (or BERTH_BUILD_CACHE)");
    expect(parseParallel('3')).toBe(3);
    expect(parseParallel(undefined)).toBeGreaterThanOrEqual(1);
    expect(parseParallel(undefined)).toBeLessThanOrEqual(4);
    expect(() => parseParallel('0')).toThrow(UsageError);
  });

  it('summarizes a build in one line', () => {
    const result: BuildResult = {
      product: 'shop',
      sha: SHA,
      tag: SHA,
      dirty: false,
      pushed: true,
      result: 'ok',
      images: {
        web: { ref: 'r/web:x', action: 'built', reason: '' },
        api: { ref: 'r/api:x', action: 'reused', reason: '' },
        db: { ref: 'r/db:x', action: 'present', reason: '' },
      },
      durationsMs: { total: 12_345 },
    };
    expect(summarize(result)).toBe(`shop ${SHA}: built web; reused api (unchanged); already in the registry: db, pushed (12.3s)`);
    expect(summarize({ ...result, images: { db: { ref: 'r', action: 'present', reason: '' } } })).toBe(
      `shop ${SHA}: built nothing; already in the registry: db, pushed (12.3s)`,
    );
  });
});

describe('the bounded pool of fallback builds', () => {
  it('never runs more than the limit at once', async () => {
    let running = 0;
    let peak = 0;
    await mapLimit([1, 2, 3, 4, 5, 6, 7], 3, async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, 5));
      running--;
    });
    expect(peak).toBe(3);
  });

  it('starts nothing new after a failure and throws the first error', async () => {
    const started: number[] = [];
    const run = mapLimit([1, 2, 3, 4, 5], 2, async (n) => {
      started.push(n);
      await new Promise((resolve) => setTimeout(resolve, n === 1 ? 1 : 20));
      if (n === 1) throw new Error('build 1 failed');
    });
    await expect(run).rejects.toThrow('build 1 failed');
    expect(started).toEqual([1, 2]);
  });
});
