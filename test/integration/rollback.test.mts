// Rollback and hygiene together on the real engine: seven releases, hygiene keeps the running one
// and the last five by image ID, every kept release can be restored from local images (even with
// the registry stopped), a pruned one is restored by digest while the registry has it and refused,
// untouched, once nothing holds it any more.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listContainers } from '../../lib/engine/engine.mts';
import { startLocalRegistry, type LocalRegistry } from '../../lib/dev/local-registry.mts';
import { readDeployLog } from '../../lib/report/metrics.mts';
import { readLedger, type ReleaseRecord } from '../../lib/releases/ledger.mts';
import type { StatusReport } from '../../lib/ops/status.mts';
import type { HygieneReport } from '../../lib/ops/hygiene/report.mts';
import type { RollbackResult } from '../../lib/ops/rollback.mts';
import { makeFixtureProduct, type FixtureProduct, runningContainers, servedVersion } from '../rig/fixture-product.mts';
import { engineAvailable, rigRunner, usePrefix } from '../rig/index.mts';

const HEALTH = `health: { path: '/healthz', port: 8080, timeoutSeconds: 15 }`;

/** repo:tag (or repo@digest) -> image ID, for this product's repositories only. */
async function productImages(product: FixtureProduct): Promise<Map<string, string>> {
  const out = await rigRunner.read([
    'docker',
    'image',
    'ls',
    '--no-trunc',
    '--digests',
    '--format',
    '{{.Repository}} {{.Tag}} {{.Digest}} {{.ID}}',
  ]);
  const refs = new Map<string, string>();
  for (const line of out.split('\n').filter(Boolean)) {
    const [repository = '', tag, digest, id = ''] = line.split(' ');
    if (!repository.startsWith(`${product.repository('')}`)) continue;
    refs.set(tag !== '<none>' ? `${repository}:${tag}` : `${repository}@${digest}`, id);
  }
  return refs;
}

async function allContainerIds(product: FixtureProduct): Promise<string[]> {
  return (await listContainers(rigRunner, product.name, undefined, true)).map((c) => c.id).sort();
}

describe.skipIf(!engineAvailable)('rollback and hygiene on the real engine', () => {
  const prefix = usePrefix();
  let registry: LocalRegistry;
  let product: FixtureProduct;
  const shas: string[] = [];
  const ledger = (): ReleaseRecord[] => readLedger(join(product.stateDir, product.name));
  const short = (sha: string) => sha.slice(0, 12);
  /** The plan a rollback printed: a line per service, what it does and why. */
  const planLines = (stderr: string) =>
    stderr
      .split('\n')
      .filter((l) => /^\s+(web|api): (replace|keep|start) \(/.test(l))
      .map((l) => l.trim());
  let dryRunPlan: string[] = [];

  async function expectStatusMatchesEngine(releaseTag: string, kind: string): Promise<StatusReport> {
    const result = await product.berth([product.name, '--json'], { script: 'status' });
    expect(result.exitCode, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as StatusReport;
    const status = report.products.find((p) => p.product === product.name);
    expect(status?.state).toBe('running');
    expect(status?.release).toMatchObject({ tag: releaseTag, kind, who: 'berth-test' });
    const current = ledger().findLast((r) => r.result === 'ok');
    for (const service of ['web', 'api']) {
      const [container] = await runningContainers(product, service);
      const shown = status?.services.find((s) => s.service === service);
      expect(shown?.imageId).toBe(container?.imageId);
      expect(shown?.image).toBe(container?.image);
      expect(shown?.containers.map((c) => c.id)).toEqual([container?.id.slice(0, 12)]);
      expect(shown?.digest).toBe(current?.services[service]?.digest);
      expect(shown?.matchesLedger).toBe(true);
      expect(shown?.deployedBy).toBe('berth-test');
    }
    expect(status?.services.find((s) => s.service === 'web')?.tag).toBe(releaseTag);
    return report;
  }

  beforeAll(async () => {
    registry = await startLocalRegistry(rigRunner);
    product = await makeFixtureProduct({
      prefix,
      registry: registry.address,
      services: { web: { product: HEALTH }, api: { product: HEALTH } },
    });
    for (let n = 1; n <= 7; n++) shas.push(await product.repo.commit({ RELEASE: `${n}\n` }, `release ${n}`));
    // web changes in every release; api only in releases 1, 4 and 7 (the others retag it).
    for (let n = 1; n <= 7; n++) {
      const sha = shas[n - 1] as string;
      await product.pushApp('web', sha, { version: `v${n}`, unique: true });
      if (n === 1 || n === 4 || n === 7) await product.pushApp('api', sha, { version: `api-${n}`, unique: true });
      else await product.retag('api', shas[n - 2] as string, sha);
    }
  });
  afterAll(async () => {
    await registry?.stop();
    await product?.remove();
  });

  it('deploys seven releases in turn, and status --json shows what runs', async () => {
    for (const sha of shas) {
      const result = await product.berth([product.name, '--tag', sha]);
      expect(result.exitCode, result.stderr).toBe(0);
    }
    expect(await servedVersion(product, 'web')).toBe('v7');
    expect(ledger().map((r) => [r.tag, r.result])).toEqual(shas.map((s) => [s, 'ok']));
    const report = await expectStatusMatchesEngine(shas[6] as string, 'deploy');
    const targets = report.products.find((p) => p.product === product.name)?.rollbackTargets;
    expect(targets?.map((t) => [t.tag, t.images])).toEqual(
      shas
        .slice(0, 6)
        .reverse()
        .map((s) => [s, 'local']),
    );
  });

  it('hygiene with N=5 keeps exactly the images of the running release and the last five', async () => {
    const before = await productImages(product);
    const records = ledger();
    const keptTags = shas.slice(2);
    const expectedIds = new Set(records.filter((r) => keptTags.includes(r.tag)).flatMap((r) => Object.values(r.services).map((i) => i.id)));
    for (const service of ['web', 'api']) for (const c of await runningContainers(product, service)) expectedIds.add(c.imageId);

    const result = await product.berth(['--json', '--skip', 'dangling,build-cache'], {
      script: 'hygiene',
      env: { BERTH_DISK_THRESHOLD: '100' },
    });
    expect(result.exitCode, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as HygieneReport;
    expect(report.products).toEqual([{ product: product.name, state: 'checked', keep: 5, keptReleases: [...keptTags].reverse() }]);

    const after = await productImages(product);
    expect(new Set(after.values())).toEqual(expectedIds);
    const removed = [...before.keys()].filter((ref) => !after.has(ref)).sort();
    const web = product.repository('web');
    // web's images of releases 1 and 2 are gone; api's release-1 image is kept under every tag, since release 3 still runs it.
    expect(removed.filter((r) => r.includes(':'))).toEqual([`${web}:${shas[0]}`, `${web}:${shas[1]}`].sort());
    expect(after.get(`${product.repository('api')}:${shas[0]}`)).toBe(records[2]?.services.api?.id);
    expect(report.cleanups.find((c) => c.name === 'images')).toMatchObject({ state: 'done', failed: [] });
    expect(
      report.cleanups
        .find((c) => c.name === 'images')
        ?.removed.filter((r) => r.includes(':'))
        .sort(),
    ).toEqual(removed.filter((r) => r.includes(':')));
    for (const sha of shas.slice(0, 2)) {
      const gone = await rigRunner.probe(['docker', 'image', 'inspect', records.find((r) => r.tag === sha)?.services.web?.id ?? '']);
      expect(gone.exitCode).not.toBe(0);
    }
  });

  it('refuses a rollback to a pruned release the registry no longer has, before anything changes', async () => {
    const digest = ledger()[0]?.services.web?.digest ?? '';
    const deleted = await fetch(`http://${registry.address}/v2/${prefix}-web/manifests/${digest.split('@')[1]}`, { method: 'DELETE' });
    expect(deleted.status).toBe(202);
    const containers = await allContainerIds(product);
    const images = await productImages(product);
    const records = ledger().length;

    const result = await product.berth([product.name, shas[0] as string], { script: 'rollback' });
    expect(result.exitCode).toBe(3);
    const errors = result.stderr.split('\n').filter((l) => l.startsWith('error:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(
      new RegExp(
        `cannot roll ${prefix} back to ${short(shas[0] as string)}: web image \\w{12} is gone from this engine, and the registry no longer has it; nothing was changed: roll back to one whose images are still there: ${short(shas[5] as string)} `,
      ),
    );
    expect(await allContainerIds(product)).toEqual(containers);
    expect(await productImages(product)).toEqual(images);
    expect(ledger()).toHaveLength(records);
    expect(await servedVersion(product, 'web')).toBe('v7');
  });

  it('rolls back to a pruned release the registry still has, pulling it by digest', async () => {
    const result = await product.berth([product.name, shas[1] as string, '--json'], { script: 'rollback' });
    expect(result.exitCode, result.stderr).toBe(0);
    const rollback = JSON.parse(result.stdout) as RollbackResult;
    expect(rollback).toMatchObject({ tag: shas[1], from: shas[6], result: 'ok' });
    expect(rollback.images.web?.source).toBe('registry');
    expect(rollback.images.api?.source).toBe('local');
    expect(await servedVersion(product, 'web')).toBe('v2');
    expect(await servedVersion(product, 'api')).toBe('api-1');
  });

  it('--dry-run prints the plan and the exact commands, and changes nothing', async () => {
    const containers = await allContainerIds(product);
    const images = await productImages(product);
    const records = ledger().length;
    const target = shas[2] as string;
    const result = await product.berth([product.name, target, '--dry-run'], { script: 'rollback' });
    expect(result.exitCode, result.stderr).toBe(0);
    const webId = ledger().find((r) => r.tag === target)?.services.web?.id ?? '';
    expect(result.stderr).toContain(`dry run: would run docker tag ${webId} ${product.repository('web')}:${target}`);
    expect(result.stderr).toMatch(/pull images\s+skipped: every image is local/);
    // The plan, once, from the images the ledger recorded: web moves to release 3's image; api
    // already runs it (releases 2 and 3 retagged release 1's). The next test runs it for real.
    dryRunPlan = planLines(result.stderr);
    expect(dryRunPlan).toEqual([
      expect.stringMatching(new RegExp(`^web: replace \\(\\w{12} -> ${webId.slice(7, 19)}, recorded for ${short(target)}\\)$`)),
      expect.stringMatching(new RegExp(`^api: keep \\(already runs \\w{12}, recorded for ${short(target)}\\)$`)),
    ]);
    expect(result.stderr).not.toContain('not in --only');
    // The result on stdout, as a deploy's: the summary table, then the one-line summary.
    const out = result.stdout.trimEnd().split('\n');
    expect(out[0]).toBe('summary (seconds per step):');
    expect(out[1]).toMatch(/^ {2}product +result +changed +.*\bselect\b.* +total$/);
    expect(out[2]).toMatch(new RegExp(`^ {2}${prefix} +dry-run +web +`));
    expect(out.at(-1)).toMatch(new RegExp(`^${prefix} ${short(target)}: dry-run, changed: web, no pull \\(\\d+ ms\\)$`));
    expect(await allContainerIds(product)).toEqual(containers);
    expect(await productImages(product)).toEqual(images);
    expect(ledger()).toHaveLength(records);
  });

  it('rolls back to each kept release from local images: no pull, health-checked, recorded', async () => {
    for (let n = 3; n <= 7; n++) {
      const sha = shas[n - 1] as string;
      // Operators type only the SHA (here a prefix): the product is found from the ledgers. Release
      // 5 goes through the deploy entry's --rollback, as the old wrappers' `--rollback <sha>` did.
      const args =
        n === 4
          ? [sha.slice(0, 10), '--json', '--verbose']
          : n === 5
            ? [product.name, '--rollback', sha, '--json', '--verbose']
            : [product.name, sha, '--json', '--verbose'];
      const result = await product.berth(args, { script: n === 5 ? 'deploy' : 'rollback' });
      expect(result.exitCode, result.stderr).toBe(0);
      const rollback = JSON.parse(result.stdout) as RollbackResult;
      expect(rollback.tag).toBe(sha);
      // The plan is shown once, each service once; the dry run of the same rollback said the same.
      const plan = planLines(result.stderr);
      expect(plan.map((l) => l.split(':')[0])).toEqual(['web', 'api']);
      if (n === 3) expect(plan).toEqual(dryRunPlan);
      expect(rollback.changed).toEqual(plan.filter((l) => / replace \(/.test(l)).map((l) => l.split(':')[0]));
      // With --json the summary table goes to stderr: stdout is the JSON's alone.
      expect(result.stderr).toMatch(
        new RegExp(`summary \\(seconds per step\\):\\n {2}product .*\\n {2}${prefix} +ok +${rollback.changed.join(',')} `),
      );
      expect(Object.values(rollback.images).map((i) => i.source)).toEqual(['local', 'local']);
      const commands = result.stderr.split('\n').filter((l) => l.trim().startsWith('$ '));
      expect(commands.filter((l) => /\s(pull|build)(\s|$)/.test(l))).toEqual([]);
      expect(await servedVersion(product, 'web')).toBe(`v${n}`);
      expect(ledger().at(-1)).toMatchObject({ tag: sha, kind: 'rollback', result: 'ok', who: 'berth-test' });
      // The deploy log (what the report and dashboards read) has the rollback as its own line.
      expect(readDeployLog(join(product.stateDir, 'deploys.jsonl')).at(-1)).toMatchObject({
        command: 'rollback',
        product: product.name,
        tag: sha,
        result: 'ok',
        changed: rollback.changed,
      });
    }
  });

  it('rolls back from local images while the registry is stopped; refuses what only the registry had', async () => {
    await registry.stop();
    // --previous after rolling back to release 7: what ran before release 7 first did.
    const previous = await product.berth([product.name, '--previous', '--json'], { script: 'rollback' });
    expect(previous.exitCode, previous.stderr).toBe(0);
    expect((JSON.parse(previous.stdout) as RollbackResult).tag).toBe(shas[5]);
    expect(await servedVersion(product, 'web')).toBe('v6');
    await expectStatusMatchesEngine(shas[5] as string, 'rollback');

    const containers = await allContainerIds(product);
    const refused = await product.berth([product.name, shas[0] as string], { script: 'rollback' });
    expect(refused.exitCode).toBe(3);
    expect(refused.stderr).toMatch(
      new RegExp(
        `web image \\w{12} is gone from this engine, and the registry ${registry.address} is unreachable \\(ECONNREFUSED\\); nothing was changed`,
      ),
    );
    expect(await allContainerIds(product)).toEqual(containers);

    // A normal deploy still refuses to start without its registry: only rollback is offline.
    const deploy = await product.berth([product.name, '--tag', shas[6] as string]);
    expect(deploy.exitCode).toBe(3);
    expect(deploy.stderr).toMatch(/registry .* is not reachable/);
  });
});
