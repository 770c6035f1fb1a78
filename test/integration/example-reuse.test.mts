// berth's own example, as a user copies it: its web and worker (Dockerfile, run.sh) and its
// development view, built with `berth build` and deployed with a smoke check on '{tag}'. An
// unchanged image must be reused (the release is not a build arg of the example's own), a smoke
// check must accept the commit a reused image reports, and every build must say what differs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BERTH_ROOT } from '../../lib/config/load.mts';
import { buildBusyboxImage } from '../../lib/dev/scratch-images.mts';
import { makeFixtureProduct, proxyService, servedVersion, type FixtureProduct } from '../rig/fixture-product.mts';
import { engineAvailable, rigRunner, usePrefix, useRegistry, type BerthResult } from '../rig/index.mts';

const BASE = 'berth-fixture/busybox:base';
const EXAMPLE = join(BERTH_ROOT, 'products', 'example');
const exampleFiles = Object.fromEntries(
  ['compose.build.yaml', 'web/Dockerfile', 'web/run.sh', 'worker/Dockerfile', 'worker/run.sh'].map((file) => [
    file,
    readFileSync(join(EXAMPLE, file), 'utf8'),
  ]),
);

interface BuildJson {
  tag: string;
  images: Record<string, { action: string; reason: string; digest?: string }>;
}

describe.skipIf(!engineAvailable)("the example's pattern: reuse, smoke on {tag}, reasons", () => {
  const prefix = usePrefix();
  const registry = useRegistry();
  let product: FixtureProduct;
  let otherBase: string;
  const shas: string[] = [];
  const builds: BuildJson[] = [];

  const berth = (args: string[], script: string, env: Record<string, string> = {}): Promise<BerthResult> =>
    product.berth([product.name, ...args], { script, env: { BASE_IMAGE: BASE, ...env } });
  const build = async (env: Record<string, string> = {}): Promise<BuildJson> => {
    const result = await berth(['--push', '--json'], 'build', env);
    expect(result.stderr).not.toMatch(/^error:/m);
    expect(result.exitCode).toBe(0);
    const json = JSON.parse(result.stdout) as BuildJson;
    builds.push(json);
    return json;
  };
  const deploy = async (tag: string) => {
    const result = await berth(['--tag', tag, '--json'], 'deploy');
    expect(result.stderr).not.toMatch(/^error:|smoke check failed/m);
    expect(result.exitCode).toBe(0);
    return { ...(JSON.parse(result.stdout) as { result: string; changed: string[] }), stderr: result.stderr };
  };

  beforeAll(async () => {
    await buildBusyboxImage(rigRunner, { tag: BASE, files: {} });
    otherBase = `${prefix}-busybox:other`;
    const proxy = proxyService(prefix);
    product = await makeFixtureProduct({
      prefix,
      registry: registry.address,
      services: {
        // The build view is resolved without BERTH_UPSTREAMS: a default, as the example's compose.yaml has.
        proxy: {
          ...proxy.spec,
          compose: proxy.spec.compose?.map((l) => l.replace('${BERTH_UPSTREAMS}', '${BERTH_UPSTREAMS:-./upstreams}')),
        },
        web: { product: `health: { path: '/healthz', port: 8080, timeoutSeconds: 20 }, drainSeconds: 1, build: { context: 'web' }` },
        worker: { kind: 'worker', product: `build: { context: 'worker' }` },
      },
      productExtra: `  buildComposeFiles: ['compose.yaml', 'compose.build.yaml'],
  smoke: [{ path: '/version', status: 200, contains: '{tag}' }],
  monitorSeconds: 1,`,
      files: { ...proxy.files, ...exampleFiles },
    });
    await product.pushProxy();
    shas.push(product.repo.sha);
  });
  afterAll(async () => {
    await product?.remove();
    if (otherBase) await rigRunner.probe(['docker', 'image', 'rm', otherBase]);
  });

  it('builds web and worker, and the deployed web answers the release', async () => {
    const json = await build();
    expect(json.images).toMatchObject({
      web: { action: 'built', reason: 'not in the registry, and no :latest to reuse' },
      worker: { action: 'built' },
    });
    expect((await deploy(shas[0] as string)).changed).toEqual(expect.arrayContaining(['web', 'worker']));
    expect(await servedVersion(product, 'web')).toBe(shas[0]);
  });

  it('a commit touching only the worker reuses web, and the smoke check accepts the commit web reports', async () => {
    shas.push(await product.repo.commit({ 'worker/run.sh': `${exampleFiles['worker/run.sh']}# worker 2\n` }, 'worker 2'));
    const [first, second] = shas as [string, string];
    const json = await build();
    expect(json).toMatchObject({
      tag: second,
      images: {
        web: { action: 'reused', reason: 'same sources as :latest, tagged again without a build' },
        worker: { action: 'built', reason: 'worker/run.sh changed' },
      },
    });
    // Tagged again, not rebuilt: the very image of the first commit.
    expect(json.images.web?.digest).toMatch(/^sha256:/);
    expect(json.images.web?.digest).toBe(builds[0]?.images.web?.digest);
    const deployed = await deploy(second);
    expect(deployed.changed).toEqual(['worker']);
    expect(deployed.stderr).toMatch(/smoke checks/);
    // The reused web answers the commit its code came from, and the smoke check took it.
    expect(await servedVersion(product, 'web')).toBe(first);
  });

  it('a build arg alone rebuilds and says which arg, not "sources"', async () => {
    await rigRunner.run(['docker', 'tag', BASE, otherBase]);
    shas.push(await product.repo.commit({ 'NOTES.md': 'outside every image\n' }, 'notes'));
    const json = await build({ BASE_IMAGE: otherBase });
    expect(json).toMatchObject({
      tag: shas[2],
      images: {
        web: { action: 'built', reason: 'build arg BASE differs' },
        worker: { action: 'built', reason: 'build arg BASE differs' },
      },
    });
  });

  it('a base image on a host that does not resolve stops the build with one line naming BASE_IMAGE', async () => {
    await product.repo.commit({ 'NOTES.md': 'a commit the registry does not have yet\n' }, 'notes 2');
    const result = await berth(['--push'], 'build', { BASE_IMAGE: `${prefix}.invalid/busybox:1` });
    expect(result.exitCode).toBe(3);
    const errors = result.stderr.split('\n').filter((l) => l.startsWith('error:'));
    expect(errors).toEqual([
      expect.stringMatching(new RegExp(`could not fetch .*${prefix}\\.invalid.*set BASE_IMAGE \\(it feeds build arg BASE\\)`)),
    ]);
    // Said once: the step's failure line and the error line, no tail of build output repeating it.
    expect(result.stderr.split('\n').filter((l) => /no such host|name resolution|server misbehaving/.test(l))).toHaveLength(1);
  });
});
