import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Product } from '../../lib/config/load.mts';
import type { DeployContext } from '../../lib/deploy/context.mts';
import { deploySteps } from '../../lib/deploy/deploy-product.mts';
import { resolveTarget } from '../../lib/ops/release-target.mts';
import { UsageError } from '../../lib/core/errors.mts';
import { rollbackPhases, rollbackPlan, rollbackSteps, unmatched } from '../../lib/ops/rollback-plan.mts';
import { repointCommands, repointPlan, repointStep } from '../../lib/ops/rollback-repoint.mts';
import { runSteps } from '../../lib/core/pipeline.mts';
import { writeUpstreams } from '../../lib/deploy/proxy.mts';
import { container, deployContext, engineRows, shopProduct, WEB_BEHIND_PROXY, type FakeContainer } from './deploy-world.mts';
import { manifestUrl } from '../../lib/registry/digest-lookup.mts';
import { checkImage, checkRelease, releaseSource, type ImageLookup } from '../../lib/releases/availability.mts';
import { findRelease, previousRelease, productsWithRelease, recordedReleases, rollbackServices } from '../../lib/releases/history.mts';
import { createRunner } from '../../lib/core/runner.mts';
import type { ReleaseKind, ReleaseRecord, ReleaseResult } from '../../lib/releases/ledger.mts';

const REG = '127.0.0.1:5999';
const id = (n: string) => `sha256:${n.padEnd(64, '0')}`;
const digest = (svc: string, n: string) => `${REG}/acme-${svc}@sha256:${n.padEnd(64, 'f')}`;

function rec(
  tag: string,
  kind: ReleaseKind = 'deploy',
  result: ReleaseResult = 'ok',
  ids: Record<string, string> = { web: tag, api: 'a1' },
): ReleaseRecord {
  return {
    time: `2026-11-0${Math.min(9, tag.length)}T10:00:00Z`,
    who: 'alice',
    host: 'vm',
    product: 'acme',
    tag,
    kind,
    result,
    services: Object.fromEntries(
      Object.entries(ids).map(([svc, n]) => [svc, { image: `${REG}/acme-${svc}:${tag}`, id: id(n), digest: digest(svc, n) }]),
    ),
    changed: Object.keys(ids),
  };
}

const product = {
  name: 'acme',
  services: {
    web: { name: 'web', kind: 'http', repository: `${REG}/acme-web` },
    api: { name: 'api', kind: 'worker', repository: `${REG}/acme-api` },
    db: { name: 'db', kind: 'stateful', repository: `${REG}/acme-db` },
  },
} as unknown as Product;

describe('finding the release to roll back to', () => {
  const ledger = [rec('aaaa111'), rec('bbbb222'), rec('cccc333', 'deploy', 'failed'), rec('bbbb999'), rec('dddd444')];

  it('lists releases that ended well, newest first, once per tag', () => {
    expect(recordedReleases([...ledger, rec('bbbb222', 'rollback')]).map((r) => [r.tag, r.kind])).toEqual([
      ['bbbb222', 'rollback'],
      ['dddd444', 'deploy'],
      ['bbbb999', 'deploy'],
      ['aaaa111', 'deploy'],
    ]);
  });

  it('finds a release by its tag or a unique prefix of at least 4 characters', () => {
    expect(findRelease(ledger, 'aaaa111', 'acme').tag).toBe('aaaa111');
    expect(findRelease(ledger, 'dddd', 'acme').tag).toBe('dddd444');
  });

  it('refuses an unknown or failed SHA, listing the recorded ones', () => {
    expect(() => findRelease(ledger, 'cccc333', 'acme')).toThrow(UsageError);
    try {
      findRelease(ledger, 'cccc333', 'acme');
    } catch (error) {
      expect((error as UsageError).line).toMatch(
        /^cccc333 is not a recorded release of acme: roll back to one of dddd444 .*bbbb999 .*bbbb222 .*aaaa111/,
      );
    }
    expect(() => findRelease(ledger, 'aaa', 'acme')).toThrow(/not a recorded release/);
    expect(() => findRelease([], 'aaaa111', 'acme')).toThrow(/not a recorded release/);
  });

  it('refuses an ambiguous prefix', () => {
    expect(() => findRelease(ledger, 'bbbb', 'acme')).toThrow(/'bbbb' matches 2 releases of acme/);
  });

  it('--previous is the release before the current one, skipping failed ones', () => {
    expect(previousRelease(ledger)?.tag).toBe('bbbb999');
    expect(previousRelease([rec('a1')])).toBeUndefined();
    expect(previousRelease([])).toBeUndefined();
  });

  it('--previous after a rollback walks further back instead of toggling', () => {
    const history = [rec('v1'), rec('v2'), rec('v3'), rec('v2', 'rollback')];
    expect(previousRelease(history)?.tag).toBe('v1');
    expect(previousRelease([...history, rec('v1', 'rollback')])).toBeUndefined();
    // A deploy after a rollback: previous is what ran just before it.
    expect(previousRelease([...history, rec('v4')])?.tag).toBe('v2');
  });

  it('the previous release carries the images it ran last', () => {
    const history = [rec('v1', 'deploy', 'ok', { web: 'old' }), rec('v2'), rec('v1', 'rollback', 'ok', { web: 'new' }), rec('v3')];
    expect(previousRelease(history)?.services.web?.id).toBe(id('new'));
  });

  it('finds which product holds a SHA', () => {
    const ledgers = { acme: ledger, other: [rec('eeee555')], empty: [] };
    expect(productsWithRelease(ledgers, 'eeee')).toEqual(['other']);
    expect(productsWithRelease(ledgers, 'dddd444')).toEqual(['acme']);
    expect(productsWithRelease(ledgers, 'cccc333')).toEqual([]);
  });

  it('re-points only the routine services the release recorded', () => {
    expect(rollbackServices(product, rec('v1', 'deploy', 'ok', { web: '1', db: '9' }))).toEqual({
      services: ['web'],
      notRecorded: ['api'],
    });
  });
});

describe('where the images are', () => {
  const lookup = (local: string[], registry: Record<string, string | true>): ImageLookup => ({
    hasLocal: (i) => local.includes(i),
    inRegistry: async (ref) =>
      registry[ref] === true
        ? { exists: true, detail: 'the registry has it' }
        : { exists: false, detail: String(registry[ref] ?? 'the registry no longer has it') },
  });

  it('prefers the local image, then the registry digest, else missing with the reason', async () => {
    const release = rec('v1', 'deploy', 'ok', { web: 'w1', api: 'a1' });
    const checks = await checkRelease(lookup([id('w1')], { [digest('api', 'a1')]: true }), product, release, ['web', 'api']);
    expect(checks.map((c) => [c.service, c.source])).toEqual([
      ['web', 'local'],
      ['api', 'registry'],
    ]);
    expect(releaseSource(checks)).toBe('registry');
    const gone = await checkImage(
      lookup([], { [digest('web', 'w1')]: 'the registry 127.0.0.1:5999 is unreachable (ECONNREFUSED)' }),
      'web',
      `${REG}/acme-web`,
      release.services.web,
    );
    expect(gone.source).toBe('missing');
    expect(gone.detail).toBe('image w10000000000 is gone from this engine, and the registry 127.0.0.1:5999 is unreachable (ECONNREFUSED)');
    const neverPushed = await checkImage(lookup([], {}), 'web', `${REG}/acme-web`, { image: 'x:1', id: id('w1') });
    expect(neverPushed.detail).toMatch(/never pushed/);
    expect(releaseSource([gone, ...checks])).toBe('missing');
  });

  it('asks the registry over HTTP only when the reference names a registry host', () => {
    expect(manifestUrl(`${REG}/acme-web@sha256:abc`)).toBe(`http://${REG}/v2/acme-web/manifests/sha256:abc`);
    expect(manifestUrl('registry.example.com/team/acme-web@sha256:abc')).toBe(
      'https://registry.example.com/v2/team/acme-web/manifests/sha256:abc',
    );
    expect(manifestUrl('library/busybox@sha256:abc')).toBeUndefined();
    expect(manifestUrl('acme-web:v1')).toBeUndefined();
  });
});

describe('the re-point plan', () => {
  const release = rec('v1', 'deploy', 'ok', { web: 'w1', api: 'a1' });
  const checks = [
    { service: 'web', repository: `${REG}/acme-web`, image: release.services.web!, source: 'local' as const, detail: '' },
    { service: 'api', repository: `${REG}/acme-api`, image: release.services.api!, source: 'registry' as const, detail: '' },
  ];

  it('tags the local image by ID, and pulls by digest first what only the registry has', () => {
    const actions = repointPlan(release, checks);
    expect(repointCommands(actions).map((a) => a.join(' '))).toEqual([
      `docker tag ${id('w1')} ${REG}/acme-web:v1`,
      `docker pull --quiet ${digest('api', 'a1')}`,
      `docker tag ${digest('api', 'a1')} ${REG}/acme-api:v1`,
    ]);
  });

  it('refuses to plan an image that is missing', () => {
    expect(() => repointPlan(release, [{ ...checks[0]!, source: 'missing' }])).toThrow(/no image to re-point web/);
  });

  it('runs right after the checkout and preflight; its own plan takes the place of change detection and the image comparison', () => {
    const steps = rollbackSteps(repointPlan(release, checks));
    expect(steps.map((s) => s.id)).toEqual([
      'checkout',
      'preflight',
      'checks',
      'repoint',
      'repair',
      'select',
      'pull',
      'migrate',
      'up',
      'health',
      'beforeSwitch',
      'switch',
      'smoke',
      'retire',
      'afterDeploy',
      'afterRollback',
      'record',
    ]);
    // Every deploy step but the three that decide is run as it is.
    const own = new Set(['repoint', 'select']);
    expect(steps.filter((s) => !own.has(s.id))).toEqual(deploySteps.filter((s) => !['select', 'changes', 'compare'].includes(s.id)));
  });

  it('under dry-run the step says exactly what it would run, and runs nothing', async () => {
    const step = repointStep(repointPlan(release, checks));
    const runner = createRunner({ dryRun: true });
    const ctx = { runner, options: { tag: 'v1', dryRun: true } } as unknown as DeployContext;
    expect(await step.skip?.(ctx)).toBe(
      `dry run: would run docker tag ${id('w1')} ${REG}/acme-web:v1 && docker pull --quiet ${digest('api', 'a1')} && docker tag ${digest('api', 'a1')} ${REG}/acme-api:v1`,
    );
    expect(runner.history).toHaveLength(0);
  });

  it('pulls by digest when the local image vanished between the check and the lock', async () => {
    const calls: string[] = [];
    const runner = {
      ...createRunner(),
      async run(argv: string[]) {
        calls.push(argv.join(' '));
        if (argv.join(' ') === `docker tag ${id('w1')} ${REG}/acme-web:v1`) throw new Error('No such image');
        return { argv, exitCode: 0, stdout: '', stderr: '', ms: 0, dryRun: false };
      },
    };
    const ctx = { runner, options: { tag: 'v1' } } as unknown as DeployContext;
    await repointStep(repointPlan(release, [checks[0]!])).run(ctx);
    expect(calls).toEqual([
      `docker tag ${id('w1')} ${REG}/acme-web:v1`,
      `docker pull --quiet ${digest('web', 'w1')}`,
      `docker tag ${digest('web', 'w1')} ${REG}/acme-web:v1`,
    ]);
  });

  it('names every service that does not run the image the rollback asked for', () => {
    const actions = repointPlan(release, checks);
    expect(unmatched(actions, { web: [id('w1')], api: [id('a1')] })).toEqual([]);
    expect(unmatched(actions, { web: [id('w1'), id('w0')], api: [] })).toEqual([
      `web runs w10000000000, w00000000000 instead of w10000000000`,
      'api runs nothing instead of a10000000000',
    ]);
  });
});

describe('the rollback plan', () => {
  const release = rec('v1', 'deploy', 'ok', { web: 'w2', worker: 'k1' });
  const shop = (stateDir?: string) =>
    shopProduct({ ...WEB_BEHIND_PROXY, db: { name: 'db', kind: 'stateful', repository: 'reg/db' } }, stateDir);
  const checksFor = (services: string[]) =>
    services.map((service) => ({
      service,
      repository: `reg/${service}`,
      image: release.services[service]!,
      source: 'local' as const,
      detail: '',
    }));
  const actions = repointPlan(release, checksFor(['web', 'worker']));
  const running = (fields: Parameters<typeof container>[0]) => [container(fields)];

  it('replaces what runs another image than the recorded one, keeps what already runs it, and says why for every service', () => {
    const before = {
      proxy: running({ id: 'p1', service: 'proxy' }),
      web: running({ id: 'w1', service: 'web', imageId: 'sha256:web-old' }),
      worker: running({ id: 'k1', service: 'worker', imageId: id('k1') }),
      db: running({ id: 'd1', service: 'db' }),
    };
    expect(rollbackPlan(shop(), 'v1', actions, before)).toEqual({
      proxy: { action: 'keep', reason: 'a rollback re-points only http and worker services' },
      web: { action: 'replace', reason: 'web-old -> w20000000000, recorded for v1' },
      worker: { action: 'keep', reason: 'already runs k10000000000, recorded for v1' },
      db: { action: 'keep', reason: 'a rollback re-points only http and worker services' },
    });
  });

  it('replaces a service that runs the image under another config, or unhealthy; starts what is not running', () => {
    const before = {
      web: running({ id: 'w1', service: 'web', imageId: id('w2') }),
      worker: running({ id: 'k1', service: 'worker', imageId: id('k1'), health: 'unhealthy' }),
    };
    const plan = rollbackPlan(shop(), 'v1', actions, before, { web: { state: 'differs', containers: ['shop_web_w1'] } });
    expect(plan.web).toEqual({ action: 'replace', force: true, reason: "shop_web_w1 runs another config than v1's" });
    expect(plan.worker).toEqual({ action: 'replace', reason: 'runs k10000000000, recorded for v1, but unhealthy' });
    expect(plan.proxy).toEqual({ action: 'start', reason: 'not running' });
  });

  it('keeps a routine service the release recorded no image for', () => {
    const before = { web: running({ id: 'w1', service: 'web' }), worker: running({ id: 'k1', service: 'worker' }) };
    expect(rollbackPlan(shop(), 'v1', actions.slice(0, 1), before).worker).toEqual({
      action: 'keep',
      reason: 'no image recorded in v1: keeps running as it is',
    });
  });

  it('is decided from the ledger once, printed once, and the same under --dry-run as for real', async () => {
    const containers: FakeContainer[] = [
      { id: 'p1', service: 'proxy' },
      { id: 'w1', service: 'web', imageId: 'sha256:web-old' },
      { id: 'k1', service: 'worker', imageId: id('k1') },
      { id: 'd1', service: 'db' },
    ];
    const proxy = container({ id: 'p1', service: 'proxy' });
    const product = shop();
    // The upstream file names the running web container: reconcile has nothing to do.
    writeUpstreams(product, 'web', ['shop_web_w1:8080']);
    const runs: Record<string, { plan: unknown; lines: string[]; runs: string[] }> = {};
    for (const dryRun of [true, false]) {
      // No `docker image inspect` row: where the release's tag points now (a dry run does not
      // move it) is never asked; the fake runner fails on any command it does not know.
      const { ctx, runner, ui } = deployContext(
        product,
        [...engineRows(containers), [/^docker tag /, {}]],
        { tag: 'v1', kind: 'rollback', offline: true, dryRun },
        proxy,
      );
      await runSteps(ctx, rollbackPhases(actions).plan);
      runs[String(dryRun)] = {
        plan: ctx.plan,
        lines: ui.lines.filter((l) => /^ {2}(proxy|web|worker|db): /.test(l)),
        runs: runner.runs,
      };
    }
    const [dry, real] = [runs.true!, runs.false!];
    expect(real.plan).toEqual({
      proxy: { action: 'keep', reason: 'a rollback re-points only http and worker services' },
      web: { action: 'replace', reason: 'web-old -> w20000000000, recorded for v1', strategy: 'start-first' },
      worker: { action: 'keep', reason: 'already runs k10000000000, recorded for v1' },
      db: { action: 'keep', reason: 'a rollback re-points only http and worker services' },
    });
    expect(dry.plan).toEqual(real.plan);
    expect(real.lines).toEqual([
      '  proxy: keep (a rollback re-points only http and worker services)',
      '  web: replace (web-old -> w20000000000, recorded for v1)',
      '  worker: keep (already runs k10000000000, recorded for v1)',
      '  db: keep (a rollback re-points only http and worker services)',
      '  web: start-first (behind the proxy)',
    ]);
    expect(dry.lines).toEqual(real.lines);
    expect(real.runs).toEqual([`docker tag ${id('w2')} reg/web:v1`, `docker tag ${id('k1')} reg/worker:v1`]);
    expect(dry.runs).toEqual([]);
  });
});

describe('rollback arguments', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  function settingsWith(ledgers: Record<string, ReleaseRecord[]>) {
    dir = mkdtempSync(join(tmpdir(), 'berth-unit-rollback-'));
    const productsDir = join(dir, 'products');
    const stateDir = join(dir, 'state');
    mkdirSync(productsDir);
    for (const [name, records] of Object.entries(ledgers)) {
      writeFileSync(join(productsDir, `${name}.mts`), 'export default {};\n');
      mkdirSync(join(stateDir, name), { recursive: true });
      writeFileSync(join(stateDir, name, 'releases.jsonl'), records.map((r) => JSON.stringify(r)).join('\n'));
    }
    return { productsDir, stateDir, workspace: dir, registry: REG, env: {} };
  }

  it('takes product and SHA, or finds the product from the SHA alone', () => {
    const settings = settingsWith({ acme: [rec('aaaa111')], beta: [rec('bbbb222')], idle: [] });
    expect(resolveTarget(['acme', 'aaaa111'], false, settings)).toEqual({ product: 'acme', sha: 'aaaa111' });
    expect(resolveTarget(['bbbb'], false, settings)).toEqual({ product: 'beta', sha: 'bbbb' });
    expect(resolveTarget(['acme'], true, settings)).toEqual({ product: 'acme' });
  });

  it('refuses what it cannot resolve, naming the fix', () => {
    const settings = settingsWith({ acme: [rec('aaaa111'), rec('cafe000')], beta: [rec('cafe000')] });
    const line = (args: string[], previous = false) => {
      try {
        resolveTarget(args, previous, settings);
      } catch (error) {
        return (error as UsageError).line;
      }
      return 'no error';
    };
    expect(line(['cafe000'])).toBe('cafe000 is a release of acme and beta: name the product: rollback acme cafe000');
    expect(line(['zzzz'])).toMatch(/^zzzz is neither a product nor a release recorded on this machine: name the product \(acme, beta\)/);
    expect(line(['acme'])).toBe('which release of acme?: run rollback acme <sha> or rollback acme --previous');
    expect(line([], true)).toBe('--previous of which product? acme, beta have releases: run rollback <product> --previous');
    expect(line(['acme', 'aaaa111'], true)).toMatch(/either a SHA or --previous/);
    expect(line([])).toMatch(/^which release\?/);
  });

  it('--previous alone picks the only product with releases', () => {
    const settings = settingsWith({ acme: [rec('aaaa111'), rec('bbbb222')], idle: [] });
    expect(resolveTarget([], true, settings)).toEqual({ product: 'acme' });
  });
});
