// Hygiene's reports on the real engine: unrotated logs with the fix, the memory limits Compose
// really set summed against host RAM, the disk threshold as an exit code and a webhook, and image
// removal that stays inside the product's own repositories and away from a product being deployed.
import { createServer, type Server } from 'node:http';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, totalmem } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listContainers } from '../../lib/engine/engine.mts';
import type { HygieneReport } from '../../lib/ops/hygiene/report.mts';
import { freePort } from '../../lib/dev/local-registry.mts';
import { makeFixtureProduct, type FixtureProduct } from '../rig/fixture-product.mts';
import { engineAvailable, rigRunner, usePrefix, useRegistry } from '../rig/index.mts';

const HEALTH = `health: { path: '/healthz', port: 8080, timeoutSeconds: 15 }`;
const MiB = 2 ** 20;
// Only this product's images, and nothing engine-wide: other work shares this engine.
const ONLY_OURS = ['--skip', 'dangling,build-cache'];

async function hasImage(ref: string): Promise<boolean> {
  return (await rigRunner.probe(['docker', 'image', 'inspect', ref])).exitCode === 0;
}

describe.skipIf(!engineAvailable)('hygiene on the real engine', () => {
  const prefix = usePrefix();
  const registry = useRegistry();
  let product: FixtureProduct;
  let webhook: Server | undefined;
  const outside = `${prefix}-elsewhere/app:1`;

  const hygiene = async (args: string[], env: Record<string, string> = {}) => {
    const result = await product.berth(['--json', ...ONLY_OURS, ...args], {
      script: 'hygiene',
      env: { BERTH_DISK_THRESHOLD: '100', ...env },
    });
    return { ...result, report: JSON.parse(result.stdout || 'null') as HygieneReport };
  };

  beforeAll(async () => {
    product = await makeFixtureProduct({
      prefix,
      registry: registry.address,
      services: {
        // Compose v1 (file without version) honours both mem_limit and deploy.resources.
        web: { product: HEALTH, compose: ['mem_limit: 64m'] },
        api: {
          product: HEALTH,
          compose: [
            'deploy:',
            '  resources:',
            '    limits:',
            '      memory: 48m',
            '    reservations:',
            '      memory: 16m',
            'logging:',
            '  driver: json-file',
            '  options:',
            '    max-size: 1m',
            '    max-file: "2"',
          ],
        },
        cron: { kind: 'worker', compose: ['logging:', '  driver: local'] },
      },
    });
    await product.pushApp('web', 'v1');
    await product.pushApp('api', 'v1', { version: 'api-1' });
    await product.pushApp('cron', 'v1', { version: 'cron-1' });
    await product.pushApp('web', 'stray', { version: 'stray' });
    await rigRunner.run(['docker', 'tag', `${product.repository('web')}:v1`, outside]);
    const deploy = await product.berth([product.name, '--tag', 'v1']);
    expect(deploy.exitCode, deploy.stderr).toBe(0);
  });
  afterAll(async () => {
    await new Promise((resolve) => (webhook ? webhook.close(resolve) : resolve(undefined)));
    await product?.remove();
  });

  it('--dry-run names what it would remove and removes nothing', async () => {
    const { exitCode, report, stderr } = await hygiene(['--dry-run']);
    expect(exitCode, stderr).toBe(0);
    expect(report.cleanups.find((c) => c.name === 'images')?.removed).toEqual([`${product.repository('web')}:stray`]);
    expect(stderr).toContain(`dry run: would run docker image rm ${product.repository('web')}:stray`);
    expect(await hasImage(`${product.repository('web')}:stray`)).toBe(true);
  });

  it('reports the service without log rotation with the fix, and sums the memory limits Compose set', async () => {
    const [web] = (await listContainers(rigRunner, product.name, 'web')).filter((c) => c.running);
    const memory = await rigRunner.read(['docker', 'inspect', '--format', '{{.HostConfig.Memory}}', web?.id ?? '']);
    expect(Number(memory)).toBe(64 * MiB);

    const { exitCode, report, stderr } = await hygiene([]);
    expect(exitCode, stderr + JSON.stringify({ alerts: report.alerts, cleanups: report.cleanups })).toBe(0);
    expect(report.logs.findings).toHaveLength(1);
    expect(report.logs.findings[0]).toMatchObject({
      product: product.name,
      service: 'web',
      how: 'json-file without max-size: grows until the disk is full',
    });
    expect(report.logs.findings[0]?.fix).toMatch(
      /^add to services\.web in compose\.yaml: logging: \{driver: json-file, options: \{max-size: "10m", max-file: "3"\}\}/,
    );
    expect(report.logs.daemonDriver).toBe('json-file');

    expect(report.memory?.hostBytes).toBe(totalmem());
    expect(report.memory?.limitBytes).toBe((64 + 48) * MiB);
    expect(report.memory?.reservationBytes).toBe(16 * MiB);
    expect(report.memory?.services.map((s) => [s.service, s.limitBytes, s.reservationBytes]).sort()).toEqual([
      ['api', 48 * MiB, 16 * MiB],
      ['cron', 0, 0],
      ['web', 64 * MiB, 0],
    ]);
    expect(report.memory?.unbounded).toEqual([`${product.name}/cron`]);
    expect(report.disk?.usedPercent).toBeGreaterThan(0);
    expect(report.disk?.over).toBe(false);
    expect(report.host).toBe(hostname());
  });

  it('removed only the unneeded image of its own repositories', async () => {
    expect(await hasImage(`${product.repository('web')}:stray`)).toBe(false);
    expect(await hasImage(`${product.repository('web')}:v1`)).toBe(true);
    expect(await hasImage(outside)).toBe(true);
  });

  it('leaves a product that is being deployed alone', async () => {
    await product.pushApp('web', 'stray2', { version: 'stray' });
    const lockDir = join(product.stateDir, product.name, 'lock');
    mkdirSync(lockDir, { recursive: true });
    writeFileSync(
      join(lockDir, 'holder.json'),
      JSON.stringify({ who: 'alice', host: hostname(), pid: process.pid, started: new Date().toISOString(), tag: 'v2', action: 'deploy' }),
    );
    try {
      const { exitCode, report, stderr } = await hygiene([]);
      expect(exitCode, stderr).toBe(0);
      expect(report.products[0]?.reason).toMatch(/^images not cleaned: .* is locked by alice@/);
      expect(await hasImage(`${product.repository('web')}:stray2`)).toBe(true);
    } finally {
      rmSync(lockDir, { recursive: true, force: true });
    }
  });

  it('exits non-zero above the disk threshold and tells the webhook; a dead webhook is reported', async () => {
    const bodies: string[] = [];
    webhook = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        bodies.push(body);
        response.end('ok');
      });
    });
    await new Promise<void>((resolve) => webhook?.listen(0, '127.0.0.1', resolve));
    const address = webhook.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook`;

    const { exitCode, report, stderr } = await hygiene(['--disk-threshold', '1'], { BERTH_WEBHOOK_URL: url });
    expect(exitCode).toBe(1);
    expect(report.disk?.over).toBe(true);
    expect(report.alerts).toHaveLength(1);
    expect(report.alerts[0]).toMatch(/^disk \/\S* is [\d.]+% full \(threshold 1%, .* free\)$/);
    expect(report.notified).toMatchObject({ ok: true });
    expect(bodies).toHaveLength(1);
    expect(JSON.parse(bodies[0] ?? '{}').text).toBe(`berth hygiene on ${hostname()}: ${report.alerts[0]}`);
    expect(stderr).not.toContain(url);

    const human = await product.berth([...ONLY_OURS], {
      script: 'hygiene',
      env: { BERTH_DISK_THRESHOLD: '1', BERTH_WEBHOOK_URL: `http://127.0.0.1:${await freePort()}/gone` },
    });
    expect(human.exitCode).toBe(1);
    // The report is the result: on stdout, where cron's mail or a pipe takes it.
    expect(human.stdout).toMatch(/^ALERT: disk .* full \(threshold 1%/m);
    expect(human.stdout).toMatch(/^notification: FAILED \(webhook http:\/\/127\.0\.0\.1:\d+ failed \(ECONNREFUSED\)\)/m);
    expect(human.stdout).toMatch(/fix: add to services\.web in compose\.yaml/);
    expect(human.stderr).not.toMatch(/ALERT:|notification:/);
  });

  it('refuses bad flags with one line naming the fix', async () => {
    const cases: [string[], RegExp][] = [
      [['--skip', 'images,everything'], /unknown cleanup everything in --skip: use images, dangling, build-cache/],
      [['--keep', '0'], /--keep must be a whole number from 1 to 100, not '0'/],
      [['--build-cache-cap', '99999999999999999999TB'], /is not a size up to 1 PiB: use e.g. --build-cache-cap 5GB/],
      [['--products', 'nope'], /unknown product nope: use one of/],
    ];
    for (const [args, message] of cases) {
      const result = await product.berth(args, { script: 'hygiene' });
      expect(result.exitCode, args.join(' ')).toBe(2);
      const errors = result.stderr.split('\n').filter((l) => l.startsWith('error:'));
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(message);
    }
  });
});
