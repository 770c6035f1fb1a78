// berth on a real one-node Docker Swarm, on the rig's second engine only (the shared engine never
// joins a swarm). The front door is the product's own Caddy, a service of the stack publishing its
// port in host mode; it resolves the service name to task addresses on every dial (dnsrr: this
// kernel has no IPVS). berth's smoke checks go through it.
import { existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerPort } from '../../lib/commands/caddy.mts';
import { readLedger } from '../../lib/releases/ledger.mts';
import { doorCaddyfile, makeFixtureProduct, type FixtureProduct } from '../rig/fixture-product.mts';
import { engineAvailable, rigRunner, underLoad, usePrefix, useRegistry } from '../rig/index.mts';
import { leaveSwarmAndStop, startSecondEngine, type SecondEngine } from '../rig/second-engine.mts';

describe.skipIf(!engineAvailable)('berth on a one-node swarm (the second engine)', () => {
  const prefix = usePrefix();
  const registry = useRegistry();
  let vm: SecondEngine;
  let product: FixtureProduct;
  let url: string;

  const deploy = (args: string[]) => product.berth([product.name, ...args], { env: { ...vm.env, BERTH_ENGINE: 'swarm' } });
  const ledger = () => readLedger(join(product.stateDir, product.name));
  const specDigest = async () => {
    const image = await specImage();
    return `${image.slice(0, image.lastIndexOf(':', image.indexOf('@')))}${image.slice(image.indexOf('@'))}`;
  };
  /** The digest the registry gives a tag (the manifest a pull by that tag gets). */
  const manifestDigest = async (name: string, tag: string) => {
    const answer = await fetch(`http://${registry.address}/v2/${name}/manifests/${tag}`, {
      method: 'HEAD',
      headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' },
    });
    return answer.headers.get('docker-content-digest') ?? '';
  };
  const specImage = async () =>
    (
      await vm.runner.read(['docker', 'service', 'inspect', '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}', `${prefix}_web`])
    ).trim();

  beforeAll(async () => {
    vm = await startSecondEngine();
    // Overlay subnets from inside the second engine's own 10.N/16, beside its bridge pools.
    const address = (await vm.runner.read(['ip', '-4', '-o', 'addr', 'show', 'dev', vm.bridge])).match(/inet 10\.(\d+)\./)?.[1];
    await vm.runner.run(['docker', 'swarm', 'init', '--advertise-addr', '127.0.0.1', '--default-addr-pool', `10.${address}.64.0/18`]);
    product = await makeFixtureProduct({
      prefix,
      registry: registry.address,
      services: {
        proxy: {
          kind: 'proxy',
          image: `\${REGISTRY}/${prefix}-proxy:caddy`,
          // Host mode, no fixed port: the engine picks one, and the test asks `docker port`.
          // berth's upstream files: berth switches the front door itself (lib/deploy/swarm/door.mts).
          compose: [
            'ports: [{ target: 80, mode: host }]',
            'volumes: ["./Caddyfile:/etc/caddy/Caddyfile:ro", "${BERTH_UPSTREAMS}:/etc/caddy/upstreams:ro"]',
          ],
        },
        web: { compose: ['environment:', '  APP_NOTE: not-for-print'], product: `health: { path: '/healthz', port: 8080 }` },
      },
      // The migration checks it has the service's environment, and fails for an image built to
      // break it, saying where the stack's DNS (on its overlay network alone) puts web.
      productExtra: `  smoke: [{ path: '/version', status: 200, contains: '{tag}' }],
  monitorSeconds: 1,
  migrate: { service: 'web', command: ['sh', '-c', 'test "$APP_NOTE" = not-for-print || exit 3; if grep -q migration-breaks /app/run.sh; then echo migration refuses this image, web is at $(nslookup web | grep Address | tail -1) >&2; exit 1; fi'] },`,
      files: { Caddyfile: doorCaddyfile() },
    });
    await product.pushProxy();
    await product.pushApp('web', 'v1');
    await product.pushApp('web', 'v2');
    await product.pushApp('web', 'v3', { healthy: false });
    await product.pushApp('web', 'v4', { version: 'not-what-smoke-wants' });
    await product.pushApp('web', 'v5', { version: 'v5-migration-breaks' });
  }, 180_000);

  afterAll(async () => {
    if (vm) await leaveSwarmAndStop(vm);
    await product?.remove();
  }, 120_000);

  it('refuses, all at once and before touching the swarm, what Swarm cannot run', async () => {
    const bad = await makeFixtureProduct({
      prefix: `${prefix}-bad`,
      registry: registry.address,
      services: {
        web: {
          compose: ['build: ./web', 'container_name: shop-web', 'ports: ["127.0.0.1:8080:8080"]'],
          product: `health: { path: '/healthz', port: 8080 }`,
        },
      },
      // Compose v1's config wants the build context to exist.
      files: { 'web/Dockerfile': 'FROM scratch\n' },
    });
    try {
      const result = await bad.berth([bad.name, '--tag', 'v1'], { env: { ...vm.env, BERTH_ENGINE: 'swarm' } });
      expect(result.exitCode, result.stderr).toBe(2);
      const errors = result.stderr.split('\n').filter((line) => line.startsWith('error:'));
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(/^error: \S+-bad cannot be deployed to a swarm as it is: /);
      for (const part of [
        /services\.web: has a build: section/,
        /container_name is not supported by Docker Swarm/,
        /ports 127\.0\.0\.1:8080:8080(\/tcp)? would publish through Swarm's ingress/,
      ])
        expect(errors[0]).toMatch(part);
      expect((await vm.runner.read(['docker', 'service', 'ls', '--quiet'])).trim()).toBe('');
      expect(readLedger(join(bad.stateDir, bad.name))).toEqual([]);
    } finally {
      await bad.remove();
    }
  });

  it('refuses an engine that is not a swarm manager (the shared engine), recording nothing', async () => {
    const result = await product.berth([product.name, '--tag', 'v1'], { env: { BERTH_ENGINE: 'swarm' } });
    expect(result.exitCode, result.stderr).toBe(3);
    expect(result.stderr.split('\n').filter((line) => line.startsWith('error:'))).toEqual([
      expect.stringMatching(
        /^error: BERTH_ENGINE=swarm but this engine is not in a swarm \(inactive\); nothing was changed: run docker swarm init/,
      ),
    ]);
    expect(ledger()).toEqual([]);
  });

  it('prints the stack file and the commands under --dry-run, and changes nothing', async () => {
    const result = await deploy(['--tag', 'v1', '--dry-run']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`image: ${registry.address}/${prefix}-web:v1@sha256:[0-9a-f]{64}`));
    expect(result.stdout).toContain('endpoint_mode: dnsrr');
    expect(result.stdout).toContain('order: start-first');
    expect(result.stdout).toContain('failure_action: rollback');
    // web's tasks answer to an alias of their release, which berth's upstream file names.
    expect(result.stdout).toMatch(/aliases:\n\s+- web-[0-9a-f]{12}\n/);
    expect(result.stderr).toMatch(
      /the front door: web pinned to its running tasks, switched to the new ones once they run, then named by web-[0-9a-f]{12}/,
    );
    expect(result.stderr).toContain('docker stack deploy --with-registry-auth');
    expect(result.stderr).toMatch(
      new RegExp(`would run docker run --rm --label berth.migrate=${prefix} --network ${prefix}_default --env-file \\S+ \\S+:v1@sha256:`),
    );
    expect(result.stdout).toContain('APP_NOTE: (hidden)');
    expect(result.stdout).not.toContain('not-for-print');
    expect((await vm.runner.read(['docker', 'service', 'ls', '--quiet'])).trim()).toBe('');
    expect(ledger()).toEqual([]);
  });

  it('deploys v1 as a stack pinned by digest and records it', async () => {
    const result = await deploy(['--tag', 'v1']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(await specImage()).toMatch(/:v1@sha256:/);
    const stackFile = join(product.stateDir, product.name, 'stack.yaml');
    expect(await readFile(stackFile, 'utf8')).toContain('APP_NOTE: not-for-print');
    expect((await stat(stackFile)).mode & 0o777).toBe(0o600);
    expect(ledger().at(-1)).toMatchObject({ tag: 'v1', result: 'ok', services: { web: { digest: expect.stringMatching(/@sha256:/) } } });

    // The front door: the stack's Caddy task, on a port the engine picked.
    const caddy = (
      await vm.runner.read(['docker', 'ps', '--quiet', '--filter', `label=com.docker.swarm.service.name=${prefix}_proxy`])
    ).trim();
    const port = (await vm.runner.read(dockerPort(caddy, 80))).split('\n')[0]?.split(':').pop();
    url = `http://127.0.0.1:${port}/version`;
    expect(result.stderr).toContain('smoke checks through the front door');
    const deadline = Date.now() + 30_000;
    for (;;) {
      const answer = await fetch(url, { signal: AbortSignal.timeout(2_000) }).then((r) => r.text(), String);
      if (answer === 'v1') break;
      if (Date.now() > deadline) throw new Error(`Caddy never answered v1 (last: ${answer})`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }, 120_000);

  it('updates to v2 under load with no failed request', async () => {
    const started = performance.now();
    // When each version answered: Swarm serves old and new tasks side by side for a while.
    const seen: Record<string, { first: number; last: number }> = {};
    const onAnswer = (at: number, body: string) => {
      const entry = (seen[body] ??= { first: at, last: at });
      entry.last = at;
    };
    const { value: result, report } = await underLoad(url, () => deploy(['--tag', 'v2']), { ratePerSecond: 180, onAnswer });
    const ms = Math.round(performance.now() - started);
    const firstV2 = Math.round((seen.v2?.first ?? 0) - started);
    const mixed = Math.round((seen.v1?.last ?? 0) - (seen.v2?.first ?? 0));
    console.log(
      `swarm v1 -> v2: deploy ${ms} ms (${JSON.stringify(ledger().at(-1)?.durationsMs)}), ${report.requests} requests, ${report.failed} failed, longest gap ${report.longestGapMs} ms, first v2 ${firstV2} ms after the deploy began, v1 and v2 both served for ${Math.max(0, mixed)} ms`,
    );
    expect(result.exitCode, result.stderr).toBe(0);
    expect(report.failed, JSON.stringify(report.errors.slice(0, 3))).toBe(0);
    expect(report.bodies.v2).toBeGreaterThan(0);
    // berth switched the front door itself: no v1 answer after the first v2 one (Swarm alone: ~1.1 s).
    expect(Math.max(0, mixed)).toBe(0);
    expect(await specImage()).toMatch(/:v2@sha256:/);
    expect(ledger().at(-1)).toMatchObject({ tag: 'v2', result: 'ok', changed: ['web'] });
    // Switched by address, then, once Swarm completed, named by v2's alias: Caddy follows Swarm's
    // healing between deploys.
    const v2Digest = /@sha256:([0-9a-f]{12})/.exec(await specImage())?.[1];
    expect(await readFile(join(product.stateDir, product.name, 'upstreams', 'web.caddy'), 'utf8')).toMatch(
      new RegExp(`^dynamic a web-${v2Digest} 8080 \\{$`, 'm'),
    );
    // Deployed again, nothing changes: Swarm keeps the spec, berth follows nothing.
    const again = await deploy(['--tag', 'v2']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stderr).toContain('Swarm changed no service');
  }, 300_000);

  it('an unhealthy v3 is rolled back by Swarm, reported with its task errors, and recorded', async () => {
    const { value: result, report } = await underLoad(url, () => deploy(['--tag', 'v3']), { ratePerSecond: 180 });
    console.log(
      `swarm v2 -> unhealthy v3: ${report.requests} requests, ${report.failed} failed, longest gap ${report.longestGapMs} ms, bodies ${JSON.stringify(report.bodies)}`,
    );
    console.log(
      result.stderr
        .split('\n')
        .filter((line) => /error:|rolled| web/.test(line))
        .join('\n'),
    );
    expect(result.exitCode, result.stderr).toBe(5);
    expect(result.stderr).toMatch(/error: Swarm did not complete the update: web rolled-back .*:v3\)/);
    expect(report.failed).toBe(0);
    expect(await specImage()).toMatch(/:v2@sha256:/);
    expect(await fetch(url).then((r) => r.text())).toBe('v2');
    const [failed, restored] = ledger().slice(-2);
    expect(failed).toMatchObject({ tag: 'v3', result: 'rolled-back', error: expect.stringContaining('follow:') });
    expect(restored).toMatchObject({ tag: 'v2', kind: 'auto-rollback', result: 'ok' });
  }, 300_000);

  it('a v4 failing smoke rolled back by berth to the recorded v2, by its digests', async () => {
    const v2 = ledger().at(-1)?.services.web?.digest;
    // When the deploy returned, and when each body was last served.
    let returned = Number.POSITIVE_INFINITY;
    const last: Record<string, number> = {};
    const { value: result, report } = await underLoad(
      url,
      async () => {
        const run = await deploy(['--tag', 'v4']);
        returned = performance.now();
        await sleep(500);
        return run;
      },
      { ratePerSecond: 180, onAnswer: (at, body) => (last[body] = at) },
    );
    console.log(
      `swarm v2 -> v4 failing smoke: ${report.requests} requests, ${report.failed} failed, longest gap ${report.longestGapMs} ms, bodies ${JSON.stringify(report.bodies)}, durations ${JSON.stringify(ledger().at(-2)?.durationsMs)}`,
    );
    console.log(
      result.stderr
        .split('\n')
        .filter((line) => /error:|warning:|==> /.test(line))
        .join('\n'),
    );
    expect(result.exitCode, result.stderr).toBe(5);
    expect(result.stderr).toMatch(/error: smoke check failed: \/version: body does not contain 'v4' \(got 'not-what-smoke-wants'\)/);
    expect(report.failed, JSON.stringify(report.errors.slice(0, 3))).toBe(0);
    // Swarm served v4 once its task was healthy; after the rollback only v2 answers.
    expect(last.v2).toBeGreaterThan(returned);
    expect(last['not-what-smoke-wants'] ?? 0).toBeLessThan(returned);
    expect(await specImage()).toBe(`${product.repository('web')}:v2@${v2?.split('@')[1]}`);
    const [failed, restored] = ledger().slice(-2);
    expect(failed).toMatchObject({ tag: 'v4', result: 'rolled-back', error: expect.stringContaining('smoke: smoke check failed') });
    expect(restored).toMatchObject({ tag: 'v2', kind: 'auto-rollback', result: 'ok', changed: ['web'], services: { web: { digest: v2 } } });
  }, 300_000);

  it('rolls back to any recorded release by redeploying its recorded digests', async () => {
    const v1 = ledger().find((r) => r.tag === 'v1')?.services.web?.digest;
    const { value: result, report } = await underLoad(
      url,
      () => product.berth([product.name, 'v1'], { script: 'rollback', env: { ...vm.env, BERTH_ENGINE: 'swarm' } }),
      { ratePerSecond: 180 },
    );
    console.log(`swarm rollback v2 -> v1: ${report.requests} requests, ${report.failed} failed, longest gap ${report.longestGapMs} ms`);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(report.failed).toBe(0);
    expect(await specImage()).toBe(`${product.repository('web')}:v1@${v1?.split('@')[1]}`);
    expect(await fetch(url).then((r) => r.text())).toBe('v1');
    expect(ledger().at(-1)).toMatchObject({ tag: 'v1', kind: 'rollback', result: 'ok', services: { web: { digest: v1 } } });
  }, 300_000);

  it('a v5 whose migration fails (run from its image, on the stack network, before the update) changes nothing', async () => {
    const result = await deploy(['--tag', 'v5']);
    expect(result.exitCode, result.stderr).not.toBe(0);
    // It ran from v5's image, with the service's environment, on the stack's overlay network.
    expect(result.stderr).toMatch(/exited 1: migration refuses this image, web is at Address: 10\.\d+\.\d+\.\d+$/m);
    expect(await specImage()).toMatch(/:v1@sha256:/);
    expect(ledger().at(-1)).toMatchObject({ tag: 'v5', result: 'failed', error: expect.stringContaining('migrate:') });
    expect((await vm.runner.read(['docker', 'ps', '--all', '--quiet', '--filter', `label=berth.migrate=${prefix}`])).trim()).toBe('');
    expect(existsSync(join(product.stateDir, product.name, 'migrate.env'))).toBe(false);
  }, 120_000);

  it('status shows the stack: each service, its tasks (node, state, digest) and the ledger release', async () => {
    const env = { ...vm.env, BERTH_ENGINE: 'swarm' };
    const v1 = ledger().at(-1)?.services.web?.digest;
    const node = (await vm.runner.read(['docker', 'info', '--format', '{{.Name}}'])).trim();
    const json = await product.berth([product.name, '--json'], { script: 'status', env });
    expect(json.exitCode, json.stderr).toBe(0);
    const [status] = JSON.parse(json.stdout).products;
    expect(status).toMatchObject({ product: product.name, engine: 'swarm', state: 'running', release: { tag: 'v1', kind: 'rollback' } });
    const web = status.services.find((s: { service: string }) => s.service === 'web');
    expect(web).toMatchObject({ state: 'running', health: 'healthy', tag: 'v1', digest: v1, replicas: '1/1', matchesLedger: true });
    expect(web.tasks).toEqual([
      expect.objectContaining({ name: `${prefix}_web.1`, node, state: expect.stringMatching(/^Running/), digest: v1, health: 'healthy' }),
    ]);
    expect(status.services.find((s: { service: string }) => s.service === 'proxy')).toMatchObject({ state: 'running', replicas: '1/1' });
    expect(status.rollbackTargets.map((t: { tag: string }) => t.tag)).toContain('v2');

    const text = await product.berth([product.name], { script: 'status', env });
    console.log(text.stdout);
    expect(text.exitCode, text.stderr).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^${product.name}: running, release v1 rollback by `, 'm'));
    expect(text.stdout).toMatch(
      new RegExp(`^ {4}task ${prefix}_web\\.1 +on ${node} +Running .* ${v1?.split('@sha256:')[1]?.slice(0, 12)} {2}healthy$`, 'm'),
    );
    // Asked of an engine that is no swarm manager (the shared one), status says so.
    const elsewhere = await product.berth([product.name], { script: 'status', env: { BERTH_ENGINE: 'swarm' } });
    expect(elsewhere.exitCode).toBe(2);
    expect(elsewhere.stderr).toMatch(
      new RegExp(`^error: ${product.name}: BERTH_ENGINE=swarm but Swarm does not answer here: .*: run status on a swarm manager$`, 'm'),
    );
  }, 60_000);

  it("a product that names its engine runs on it whatever the VM's BERTH_ENGINE says: status reads the stack, retire refuses", async () => {
    const file = join(product.productsDir, `${product.name}.mts`);
    const original = await readFile(file, 'utf8');
    expect(original).toMatch(/^\s*name: /m);
    await writeFile(file, original.replace(/^(\s*)name: (.*)$/m, "$1name: $2\n$1engine: 'swarm',"));
    try {
      const env = { ...vm.env, BERTH_ENGINE: 'compose' };
      const status = await product.berth([product.name, '--json'], { script: 'status', env });
      expect(status.exitCode, status.stderr).toBe(0);
      expect(JSON.parse(status.stdout).products[0]).toMatchObject({ engine: 'swarm', state: 'running', release: { tag: 'v1' } });
      const before = await specImage();
      const retire = await product.berth([product.name, '--yes'], { script: 'retire', env });
      expect(retire.exitCode).toBe(2);
      expect(retire.stderr.split('\n').filter((line) => line.startsWith('error:'))).toEqual([
        `error: ${product.name} runs on a swarm: berth does not retire a stack yet; nothing was changed: docker stack rm ${prefix} on a manager, then remove ${join(product.stateDir, product.name)} if its releases are not wanted`,
      ]);
      expect(await specImage()).toBe(before);
    } finally {
      await writeFile(file, original);
    }
  }, 60_000);

  it('deploy-all deploys a new commit through the stack, records it and reports it as on Compose', async () => {
    const env = { ...vm.env, BERTH_ENGINE: 'swarm' };
    // The commit CI built: deploy-all deploys each product's checkout head. Its image names the
    // commit it was built from, as berth's build labels it.
    const sha = product.repo.sha;
    await product.pushApp('web', sha);
    await rigRunner.run(['docker', 'build', '--quiet', '--tag', `${product.repository('web')}:${sha}`, '-'], {
      input: `FROM ${product.repository('web')}:${sha}\nLABEL org.opencontainers.image.revision=${sha}\n`,
      env: { DOCKER_BUILDKIT: '0' },
    });
    await rigRunner.run(['docker', 'push', `${product.repository('web')}:${sha}`]);
    const before = ledger().length;
    const result = await product.berth(['--json'], { script: 'deploy-all', env });
    expect(result.exitCode, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ ok: true, dryRun: false });
    expect(report.products).toEqual([
      expect.objectContaining({
        product: product.name,
        tag: sha,
        result: 'ok',
        changed: ['web'],
        plan: expect.objectContaining({ web: expect.objectContaining({ action: 'replace' }) }),
      }),
    ]);
    expect(result.stderr).toContain(`[${product.name}] `);
    expect(result.stderr).toMatch(/plan: 1 product, 1 with changes/);
    expect(await specImage()).toMatch(new RegExp(`:${sha}@sha256:`));
    expect(await fetch(url).then((r) => r.text())).toBe(sha);
    expect(ledger()).toHaveLength(before + 1);
    expect(ledger().at(-1)).toMatchObject({
      tag: sha,
      result: 'ok',
      changed: ['web'],
      services: { web: { digest: expect.stringMatching(/@sha256:/) } },
    });

    // A commit that changes the stack file alone (web's environment), its image the same digest:
    // only the stack deploy can tell Swarm, and the ledger records the commit once Swarm runs it.
    const compose = await readFile(join(product.repo.dir, 'compose.yaml'), 'utf8');
    const stackOnly = await product.repo.commit({
      'compose.yaml': compose.replace(/^( +)APP_NOTE: not-for-print$/m, '$&\n$1APP_COLOUR: blue'),
    });
    await product.retag('web', sha, stackOnly);
    const config = await product.berth(['--json'], { script: 'deploy-all', env });
    expect(config.exitCode, config.stderr).toBe(0);
    expect(JSON.parse(config.stdout).products).toEqual([expect.objectContaining({ tag: stackOnly, result: 'ok', changed: ['web'] })]);
    expect(
      await vm.runner.read(['docker', 'service', 'inspect', '--format', '{{json .Spec.TaskTemplate.ContainerSpec.Env}}', `${prefix}_web`]),
    ).toContain('APP_COLOUR=blue');
    expect(await specImage()).toMatch(new RegExp(`:${stackOnly}@sha256:`));
    expect(ledger()).toHaveLength(before + 2);
    expect(ledger().at(-1)).toMatchObject({ tag: stackOnly, result: 'ok', changed: ['web'] });

    // Run again (cron): the same commit, nothing to deploy, nothing recorded.
    const again = await product.berth(['--json'], { script: 'deploy-all', env });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).products).toEqual([expect.objectContaining({ tag: stackOnly, result: 'ok', changed: [] })]);
    expect(ledger()).toHaveLength(before + 2);
  }, 120_000);

  it('hygiene on the manager removes an image no release keeps and no task uses, never a rollback target', async () => {
    const env = { ...vm.env, BERTH_ENGINE: 'swarm' };
    const repository = product.repository('web');
    const local = async () =>
      (await vm.runner.read(['docker', 'image', 'ls', '--digests', '--format', '{{.Repository}}@{{.Digest}}', repository]))
        .split('\n')
        .filter(Boolean);
    // v5 was pulled for its migration, which failed: no release keeps it, no task ever ran it.
    const v5 = `${repository}@${await manifestDigest(`${prefix}-web`, 'v5')}`;
    expect(await local()).toContain(v5);
    const kept = [
      ...new Set([
        ...ledger()
          .filter((r) => r.result === 'ok')
          .map((r) => r.services.web?.digest ?? ''),
        await specDigest(),
      ]),
    ];
    expect(kept.length).toBeGreaterThanOrEqual(3);

    const result = await product.berth(['--json', '--disk-threshold', '100'], { script: 'hygiene', env });
    expect(result.exitCode, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.cleanups.find((c: { name: string }) => c.name === 'images')).toMatchObject({
      state: 'done',
      removed: expect.arrayContaining([v5]),
    });
    const after = await local();
    expect(after).not.toContain(v5);
    for (const digest of kept) expect(after, digest).toContain(digest);
    // The stack's task containers are the product's: the memory report counts the running ones.
    expect(report.memory.services).toEqual(
      expect.arrayContaining([expect.objectContaining({ product: product.name, service: 'web', containers: 1 })]),
    );
  }, 60_000);

  it('a failing v4 berth cannot put back (the previous image gone from the registry and the manager) fails loudly, recorded so', async () => {
    const previous = ledger().at(-1);
    const digest = previous?.services.web?.digest ?? '';
    expect(previous).toMatchObject({ result: 'ok', services: { web: { digest: expect.stringMatching(/@sha256:/) } } });
    // The registry no longer has the release berth would go back to (its manifest and its config
    // deleted, as a registry garbage collection leaves it), and neither has this manager: the node
    // was rebuilt. Here: the service and its task containers removed by hand, then the image.
    const manifestUrl = `http://${registry.address}/v2/${prefix}-web/manifests/${digest.split('@')[1]}`;
    const accept = { Accept: 'application/vnd.docker.distribution.manifest.v2+json' };
    const config = ((await (await fetch(manifestUrl, { headers: accept })).json()) as { config: { digest: string } }).config.digest;
    expect((await fetch(manifestUrl, { method: 'DELETE' })).status).toBe(202);
    expect((await fetch(`http://${registry.address}/v2/${prefix}-web/blobs/${config}`, { method: 'DELETE' })).status).toBe(202);
    expect((await fetch(manifestUrl, { headers: accept })).status).toBe(404);
    const imageId = (await vm.runner.read(['docker', 'image', 'inspect', '--format', '{{.Id}}', digest])).trim();
    await vm.runner.run(['docker', 'service', 'rm', `${prefix}_web`]);
    const tasks = ['docker', 'ps', '--all', '--quiet', '--filter', `label=com.docker.swarm.service.name=${prefix}_web`];
    for (const deadline = Date.now() + 30_000; (await vm.runner.read(tasks)).trim() !== ''; await sleep(200)) {
      if (Date.now() > deadline) throw new Error(`Swarm left the task containers of ${prefix}_web`);
    }
    await vm.runner.run(['docker', 'image', 'rm', '--force', imageId]);
    expect((await vm.runner.probe(['docker', 'image', 'inspect', imageId])).exitCode).not.toBe(0);

    const result = await deploy(['--tag', 'v4']);
    console.log(
      result.stderr
        .split('\n')
        .filter((line) => /error:|warning:/.test(line))
        .join('\n'),
    );
    expect(result.exitCode, result.stderr).toBe(5);
    const errors = result.stderr.split('\n').filter((line) => line.startsWith('error:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(
      new RegExp(
        `^error: smoke check failed: /version: body does not contain 'v4' .*; berth could not put web back on ${previous?.tag} \\(.*docker pull .*${digest.split('@')[1]}.*\\), so web still runs v4, the release that failed: roll back to a release whose images the registry still has \\(rollback ${product.name} <tag>`,
      ),
    );
    expect(result.stderr).not.toContain('the release was rolled back');
    expect(await specImage()).toMatch(/:v4@sha256:/);
    const [last, failed] = ledger().slice(-2);
    expect(last).toMatchObject({ tag: previous?.tag, result: 'ok' });
    expect(failed).toMatchObject({
      tag: 'v4',
      result: 'failed',
      error: expect.stringMatching(
        new RegExp(`^smoke: .*; not restored: web still runs v4 \\(putting them back on ${previous?.tag} failed: .*docker pull `),
      ),
    });
  }, 180_000);
});
