// Change detection on the real engine, one product with real git history: only the services whose
// paths or resolved compose config changed since the deployed commit, or whose image for the new
// commit is not the one running (rebuilt), are pulled and recreated.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineAvailable, rigRunner, usePrefix, useRegistry } from '../rig/index.mts';
import {
  fixtureCompose,
  makeFixtureProduct,
  type FixtureProduct,
  type FixtureServiceSpec,
  containerIds,
  runningContainers,
  servedVersion,
} from '../rig/fixture-product.mts';
import { listContainers } from '../../lib/engine/engine.mts';
import { localImageId } from '../../lib/engine/images.mts';
import { readLedger } from '../../lib/releases/ledger.mts';

const HEALTH = `health: { path: '/healthz', port: 8080, timeoutSeconds: 8 }`;

function specs(webEnv?: string): Record<string, FixtureServiceSpec> {
  return {
    web: { product: `${HEALTH}, build: { context: 'web' }`, compose: webEnv ? ['environment:', `  APP_VERSION: ${webEnv}`] : [] },
    // GREETING comes from an untracked .env on the VM when there is one.
    api: {
      product: `${HEALTH}, build: { context: 'api', paths: ['shared'] }`,
      compose: ['environment:', '  GREETING: ${GREETING:-hello}'],
    },
  };
}

async function hasLocalImage(ref: string): Promise<boolean> {
  return (await rigRunner.probe(['docker', 'image', 'inspect', ref])).exitCode === 0;
}

interface Deployed {
  exitCode: number;
  stderr: string;
  json: { result: string; changed: string[]; plan: Record<string, { action: string; reason: string }> };
}

describe.skipIf(!engineAvailable)('change detection on the real engine', () => {
  const prefix = usePrefix();
  const registry = useRegistry();
  let product: FixtureProduct;
  const shas: string[] = [];

  /** What CI does: every service gets a tag for every commit; only changed ones get a new image. */
  async function release(sha: string, versions: Record<string, string>, healthy = true): Promise<void> {
    for (const service of ['web', 'api']) {
      const version = versions[service];
      if (version) await product.pushApp(service, sha, { version, healthy });
      else await product.retag(service, 'ci-latest', sha);
      await rigRunner.run(['docker', 'tag', `${product.repository(service)}:${sha}`, `${product.repository(service)}:ci-latest`]);
      // Only the registry keeps the release tag, as on a VM: whatever is local afterwards was pulled.
      await rigRunner.run(['docker', 'image', 'rm', `${product.repository(service)}:${sha}`]);
    }
    shas.push(sha);
  }

  async function deploy(args: string[] = []): Promise<Deployed> {
    const result = await product.berth([product.name, '--json', ...args]);
    return { exitCode: result.exitCode, stderr: result.stderr, json: result.stdout ? JSON.parse(result.stdout) : undefined };
  }

  beforeAll(async () => {
    product = await makeFixtureProduct({
      prefix,
      registry: registry.address,
      services: specs(),
      files: { 'web/index.txt': 'web 1\n', 'api/main.txt': 'api 1\n', 'shared/lib.txt': 'lib 1\n', 'README.md': 'fixture\n' },
    });
    await release(product.repo.sha, { web: 'web-1', api: 'api-1' });
  });
  afterAll(() => product?.remove());

  it('selects every service on the first deploy', async () => {
    const first = await deploy();
    expect(first.stderr).not.toMatch(/error:/);
    expect(first.exitCode).toBe(0);
    expect(first.json.changed.sort()).toEqual(['api', 'web']);
    expect(first.json.plan.web?.reason).toBe('not running');
  });

  it('a commit touching web/ plans web only; --dry-run prints the exact pull and changes nothing', async () => {
    const before = await containerIds(product);
    const sha = await product.repo.commit({ 'web/index.txt': 'web 2\n' }, 'web change');
    await release(sha, { web: 'web-2' });
    const base = shas[0]?.slice(0, 7);

    const dry = await deploy(['--dry-run']);
    expect(dry.exitCode).toBe(0);
    expect(dry.stderr).toContain(`web: replace (web/index.txt changed since ${base})`);
    expect(dry.stderr).toContain(`api: keep (unchanged since ${base})`);
    const pull = dry.stderr.split('\n').find((l) => /dry run: would run .*\bpull\b/.test(l));
    expect(pull).toMatch(new RegExp(`-web(:${sha})?$|pull (--quiet )?web$`));
    expect(pull).not.toMatch(/-api\b|\bapi$/);
    expect(await containerIds(product)).toEqual(before);
    expect(readLedger(join(product.stateDir, product.name))).toHaveLength(1);

    const real = await deploy();
    expect(real.exitCode).toBe(0);
    expect(real.json.changed).toEqual(['web']);
    expect(real.json.plan.api).toEqual({ action: 'keep', reason: `unchanged since ${base}` });
    const after = await containerIds(product);
    expect(after.api).toBe(before.api);
    expect(after.web).not.toBe(before.web);
    expect(await servedVersion(product, 'web')).toBe('web-2');
    // Unchanged services are not even pulled.
    expect(await hasLocalImage(`${product.repository('web')}:${sha}`)).toBe(true);
    expect(await hasLocalImage(`${product.repository('api')}:${sha}`)).toBe(false);
  });

  it('a change under a declared extra path (shared/) selects the service that declares it', async () => {
    const before = await containerIds(product);
    const sha = await product.repo.commit({ 'shared/lib.txt': 'lib 2\n', 'README.md': 'docs only\n' }, 'shared change');
    await release(sha, { api: 'api-2' });
    const result = await deploy();
    expect(result.exitCode).toBe(0);
    expect(result.json.changed).toEqual(['api']);
    expect(result.json.plan.api?.reason).toMatch(new RegExp(`^shared/lib.txt changed since ${shas[0]?.slice(0, 7)}`));
    expect(result.json.plan.web).toEqual({ action: 'keep', reason: `unchanged since ${shas[1]?.slice(0, 7)}` });
    expect((await containerIds(product)).web).toBe(before.web);
  });

  it('a compose-only change (an env var of web) selects exactly that service, though its image is the same', async () => {
    const before = await containerIds(product);
    const sha = await product.repo.commit({ 'compose.yaml': fixtureCompose(prefix, specs('web-env')) }, 'web env');
    await release(sha, {});
    const result = await deploy();
    expect(result.exitCode).toBe(0);
    expect(result.json.changed).toEqual(['web']);
    expect(result.json.plan.web?.reason).toBe(`compose config changed since ${shas[1]?.slice(0, 7)} (environment)`);
    expect(result.json.plan.api?.reason).toBe(`unchanged since ${shas[2]?.slice(0, 7)}`);
    const after = await containerIds(product);
    expect(after.api).toBe(before.api);
    expect(after.web).not.toBe(before.web);
    expect(await servedVersion(product, 'web')).toBe('web-env');
  });

  it('an untracked .env edit reaches exactly the service it changes, read from the running containers', async () => {
    writeFileSync(join(product.repo.dir, '.env'), 'GREETING=hi\n');
    const before = await containerIds(product);
    const result = await deploy();
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.json.changed).toEqual(['api']);
    expect(result.json.plan.api?.reason).toMatch(/ runs another config than [0-9a-f]{7}'s$/);
    expect(result.json.plan.web?.reason).toMatch(/^unchanged since /);
    const after = await containerIds(product);
    expect(after.web).toBe(before.web);
    expect(after.api).not.toBe(before.api);
    const [api] = (await listContainers(rigRunner, product.name, 'api')).filter((c) => c.running);
    const env = JSON.parse(await rigRunner.read(['docker', 'inspect', '--format', '{{json .Config.Env}}', api?.id ?? ''])) as string[];
    expect(env).toContain('GREETING=hi');
    // Applied: the next deploy finds every container running its config, and --all still forces all.
    const again = await deploy();
    expect(again.json.changed).toEqual([]);
    const all = await deploy(['--all']);
    expect(all.exitCode).toBe(0);
    expect(all.json.plan.api?.reason).toBe('--all');
  });

  it('a service whose image for the new commit was rebuilt (other build args, same files) is replaced; its twin is kept', async () => {
    const before = await containerIds(product);
    // The --all deploy above recreated every service at the last release.
    const apiBase = shas.at(-1)?.slice(0, 7);
    const sha = await product.repo.commit({ 'README.md': 'docs again\n' }, 'docs only');
    // What a new BASE_IMAGE build arg does: web's image for this commit is another image, though
    // nothing under web/ changed; api's is pushed as the very image it runs.
    await release(sha, { web: 'rebuilt' });
    const short = sha.slice(0, 7);
    const rebuilt = new RegExp(`^its image for ${short} is not the one running \\(registry [0-9a-f]{12}, running [0-9a-f]{12}: rebuilt`);

    const dry = await deploy(['--dry-run', '--tag', sha]);
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(dry.json.plan.web?.reason).toMatch(rebuilt);
    expect(await containerIds(product)).toEqual(before);

    const result = await deploy(['--tag', sha]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.json.changed).toEqual(['web']);
    expect(result.json.plan.web?.reason).toMatch(rebuilt);
    expect(result.json.plan.api).toEqual({ action: 'keep', reason: `unchanged since ${apiBase}` });
    const after = await containerIds(product);
    expect(after.api).toBe(before.api);
    expect(after.web).not.toBe(before.web);
    // web's compose sets APP_VERSION (the compose-only case above), so the image shows by its id.
    const [web] = await runningContainers(product, 'web');
    expect(web?.imageId).toBe(await localImageId(rigRunner, `${product.repository('web')}:${sha}`));
    expect(web?.imageId).toBe(await localImageId(rigRunner, `${product.repository('web')}:ci-latest`));
    // Kept services are still not pulled; and once deployed, the rebuilt image is the running one.
    expect(await hasLocalImage(`${product.repository('api')}:${sha}`)).toBe(false);
    const again = await deploy(['--tag', sha]);
    expect(again.json.changed).toEqual([]);
    expect(again.json.plan.web?.reason).toBe(`unchanged since ${short}`);
  });

  it('a tag that is not a commit falls back to comparing images, and says so', async () => {
    await product.retag('web', 'ci-latest', 'hotfix');
    await product.retag('api', 'ci-latest', 'hotfix');
    const before = await containerIds(product);
    const result = await deploy(['--tag', 'hotfix']);
    expect(result.exitCode).toBe(0);
    expect(result.json.plan.web?.reason).toMatch(/^tag hotfix is not a commit in .*: comparing images, but it already runs [0-9a-f]{12}$/);
    expect(result.json.changed).toEqual([]);
    expect(await containerIds(product)).toEqual(before);
  });
});
