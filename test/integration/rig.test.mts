// Proves the rig itself: registry, scratch images (busybox app, Caddy), networks, push/pull and
// cleanup by prefix. Every later integration test stands on these pieces.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import {
  cleanupPrefix,
  engineAvailable,
  fixtureAppImage,
  fixtureCaddyImage,
  getResponse,
  getText,
  listPrefixed,
  publishedPort,
  rigRunner as runner,
  useRegistry,
  usePrefix,
  waitForText,
} from '../rig/index.mts';

describe.skipIf(!engineAvailable)('integration rig', () => {
  const prefix = usePrefix();
  const registry = useRegistry();
  const network = `${prefix}-net`;
  let scratchDir: string | undefined;
  afterAll(async () => {
    if (scratchDir) await rm(scratchDir, { recursive: true, force: true });
  });

  test('the local registry answers /v2/', async () => {
    const response = await fetch(`http://${registry.address}/v2/`);
    expect(response.status).toBe(200);
  });

  test('fixture images are cached by content hash', async () => {
    await fixtureAppImage('v1');
    const again = await fixtureAppImage('v1');
    expect(again.built).toBe(false);
    expect(again.id).toMatch(/^sha256:/);
  });

  test('the busybox app serves its version, becomes healthy and stops promptly', async () => {
    const image = await fixtureAppImage('v1');
    await runner.run(['docker', 'network', 'create', network]);
    const name = `${prefix}-app`;
    await runner.run([
      'docker',
      'run',
      '-d',
      '--name',
      name,
      '--network',
      network,
      '--network-alias',
      'app',
      '-p',
      '127.0.0.1:0:8080',
      image.tag,
    ]);
    const port = await publishedPort(name, 8080);
    expect(await waitForText(`http://127.0.0.1:${port}/version`)).toBe('v1');
    expect(await getText(`http://127.0.0.1:${port}/healthz`)).toBe('ok');

    const deadline = Date.now() + 20_000;
    let health = '';
    while (health !== 'healthy' && Date.now() < deadline) {
      health = await runner.read(['docker', 'inspect', '--format', '{{.State.Health.Status}}', name]);
      if (health !== 'healthy') await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(health).toBe('healthy');

    // One image, another version at run time; an unhealthy one has no /healthz.
    const other = `${prefix}-app-v9`;
    await runner.run([
      'docker',
      'run',
      '-d',
      '--name',
      other,
      '-e',
      'APP_VERSION=v9',
      '-e',
      'APP_HEALTHY=0',
      '-p',
      '127.0.0.1:0:8080',
      image.tag,
    ]);
    const otherPort = await publishedPort(other, 8080);
    expect(await waitForText(`http://127.0.0.1:${otherPort}/version`)).toBe('v9');
    expect((await getResponse(`http://127.0.0.1:${otherPort}/healthz`)).status).toBe(404);

    // The wrapper traps TERM and exits by itself; without it Docker kills it after the grace period (137).
    await runner.run(['docker', 'stop', '--time', '10', other]);
    expect(await runner.read(['docker', 'inspect', '--format', '{{.State.ExitCode}}', other])).toBe('0');
  });

  test('Caddy in scratch proxies to the app over the docker network', async () => {
    const caddy = await fixtureCaddyImage();
    scratchDir = await mkdtemp(join(tmpdir(), 'berth-rig-'));
    const caddyfile = join(scratchDir, 'Caddyfile');
    await writeFile(caddyfile, '{\n\tadmin off\n\tauto_https off\n}\n\n:80 {\n\treverse_proxy app:8080\n}\n');
    const name = `${prefix}-caddy`;
    await runner.run([
      'docker',
      'run',
      '-d',
      '--name',
      name,
      '--network',
      network,
      '-p',
      '127.0.0.1:0:80',
      '-v',
      `${caddyfile}:/etc/caddy/Caddyfile:ro`,
      caddy.tag,
    ]);
    const port = await publishedPort(name, 80);
    expect(await waitForText(`http://127.0.0.1:${port}/version`)).toBe('v1');
    expect(await getText(`http://127.0.0.1:${port}/`)).toContain('<h1>v1</h1>');
  });

  test('push to the local registry and pull back', async () => {
    const image = await fixtureAppImage('v1');
    const ref = `${registry.address}/${prefix}/app:v1`;
    await runner.run(['docker', 'tag', image.tag, ref]);
    await runner.run(['docker', 'push', '--quiet', ref]);
    await runner.run(['docker', 'image', 'rm', ref]);
    await runner.run(['docker', 'pull', '--quiet', ref]);
    expect(await runner.read(['docker', 'image', 'inspect', '--format', '{{.Id}}', ref])).toBe(image.id);
  });

  test('cleanupPrefix leaves nothing with the prefix', async () => {
    const before = await listPrefixed(prefix);
    expect(before.containers.length).toBeGreaterThan(0);
    expect(before.networks).toEqual([network]);
    await runner.run(['docker', 'volume', 'create', `${prefix}-vol`]);

    const left = await cleanupPrefix(prefix);
    expect(left).toEqual({ services: [], containers: [], networks: [], volumes: [], images: [] });
    // The cached fixture image is not ours to remove.
    expect((await runner.probe(['docker', 'image', 'inspect', (await fixtureAppImage('v1')).tag])).exitCode).toBe(0);
  });
});
