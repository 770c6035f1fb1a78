// The health step and the ledger record with a fake engine: the new containers are the ones
// `up` did not see, each must be healthy; the record names the image each service runs now.
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BLOCK_BEGIN, BLOCK_END } from '../../lib/deploy/compose-env-file.mts';
import { healthCheck } from '../../lib/deploy/steps/health-check.mts';
import { record } from '../../lib/deploy/steps/record.mts';
import { up } from '../../lib/deploy/steps/up.mts';
import { readLedger } from '../../lib/releases/ledger.mts';
import { deployContext, engineRows, shopProduct, WEB_BEHIND_PROXY, type FakeContainer } from './deploy-world.mts';

const WORKER_ONLY = { worker: WEB_BEHIND_PROXY.worker } as typeof WEB_BEHIND_PROXY;

describe('the health step', () => {
  it('waits for the containers up started (not the ones it found) and keeps them as the fresh ones', async () => {
    const containers: FakeContainer[] = [
      { id: 'k1', service: 'worker' },
      { id: 'k2', service: 'worker', health: 'healthy' },
    ];
    const { ctx, runner } = deployContext(shopProduct(WORKER_ONLY), engineRows(containers));
    ctx.plan = { worker: { action: 'replace', reason: '', strategy: 'start-first' } };
    ctx.journal.started = { existingIds: ['k1'], replaced: { worker: 'start-first' } };
    expect(await healthCheck.skip?.(ctx)).toBe(false);
    await healthCheck.run(ctx);
    expect(ctx.fresh.worker?.map((c) => [c.id, c.health])).toEqual([['k2', 'healthy']]);
    expect(runner.runs).toEqual([]);
  });

  it('fails on a new container that stopped', async () => {
    const containers: FakeContainer[] = [
      { id: 'k1', service: 'worker' },
      { id: 'k2', service: 'worker', running: false },
    ];
    const { ctx } = deployContext(shopProduct(WORKER_ONLY), [...engineRows(containers), [/^docker logs /, { stdout: 'boom' }]]);
    ctx.plan = { worker: { action: 'replace', reason: '', strategy: 'start-first' } };
    ctx.journal.started = { existingIds: ['k1'], replaced: { worker: 'start-first' } };
    await expect(healthCheck.run(ctx)).rejects.toThrow(/k2/);
  });

  it('is skipped with nothing new, and says what it would wait for under dry run', async () => {
    const { ctx } = deployContext(shopProduct(WEB_BEHIND_PROXY), []);
    ctx.plan = { web: { action: 'keep', reason: '' } };
    expect(await healthCheck.skip?.(ctx)).toBe('no new containers');
    ctx.plan = { web: { action: 'replace', reason: '', strategy: 'start-first' } };
    ctx.options.dryRun = true;
    expect(await healthCheck.skip?.(ctx)).toBe(
      'dry run: would wait for web (GET :8080/healthz on the new container, deadline 60s unless its healthcheck says otherwise)',
    );
  });
});

describe('up', () => {
  it("journals every container id and each replaced service's strategy before it starts anything", async () => {
    const containers: FakeContainer[] = [{ id: 'k1', service: 'worker' }];
    const { ctx, runner } = deployContext(shopProduct(WORKER_ONLY), [
      ...engineRows(containers),
      [/up --detach --no-deps --no-build worker$/, {}],
    ]);
    ctx.plan = { worker: { action: 'replace', reason: '', strategy: 'stop-first' } };
    expect(await up.skip?.(ctx)).toBe(false);
    await up.run(ctx);
    expect(ctx.journal.started).toEqual({ existingIds: ['k1'], replaced: { worker: 'stop-first' } });
    expect(runner.runs).toEqual([
      'docker-compose --project-name shop --project-directory /srv/shop -f /srv/shop/c.yml up --detach --no-deps --no-build worker',
    ]);
  });

  it('skips when every service already runs its target image', async () => {
    const { ctx } = deployContext(shopProduct(WORKER_ONLY), []);
    ctx.plan = { worker: { action: 'keep', reason: '' } };
    expect(await up.skip?.(ctx)).toBe('every service already runs its target image');
  });
});

describe('record', () => {
  it('appends the release with the image, id and registry digest each running service has', async () => {
    const product = shopProduct(WORKER_ONLY);
    const { ctx } = deployContext(product, [
      ...engineRows([{ id: 'k2', service: 'worker', imageId: 'sha256:new' }]),
      [
        /^docker image inspect sha256:new$/,
        { stdout: JSON.stringify([{ Id: 'sha256:new', RepoDigests: ['other@sha256:1', 'reg/worker@sha256:abc'] }]) },
      ],
    ]);
    ctx.plan = { worker: { action: 'replace', reason: '', strategy: 'start-first' } };
    ctx.timings = { preflight: 5 };
    await record.run(ctx);
    const [release] = readLedger(product.stateDir);
    expect(release).toMatchObject({
      product: 'shop',
      tag: 'v2',
      kind: 'deploy',
      result: 'ok',
      changed: ['worker'],
      durationsMs: { preflight: 5 },
      services: { worker: { image: 'reg/worker:x', id: 'sha256:new', digest: 'reg/worker@sha256:abc' } },
    });
  });

  it('under dry run only says where it would append', async () => {
    const product = shopProduct(WORKER_ONLY);
    const { ctx } = deployContext(product, [], { dryRun: true });
    expect(await record.skip?.(ctx)).toBe(
      `dry run: would append v2 to ${product.stateDir}/releases.jsonl and write IMAGE_TAG=v2 into /srv/shop/.env`,
    );
  });

  it("writes the release into the checkout's .env, keeping the operator's lines", async () => {
    const repoDir = mkdtempSync(join(tmpdir(), 'berth-unit-repo-'));
    writeFileSync(join(repoDir, '.env'), 'DB_PASSWORD=hunter2\nIMAGE_TAG=old\n', { mode: 0o600 });
    const product = { ...shopProduct(WORKER_ONLY), repoDir };
    const { ctx, ui } = deployContext(product, [...engineRows([]), [/^git -C \S+ ls-files -z -- \.env$/, { stdout: '' }]]);
    await record.run(ctx);
    expect(readFileSync(join(repoDir, '.env'), 'utf8')).toBe(
      `DB_PASSWORD=hunter2\nIMAGE_TAG=old\n${BLOCK_BEGIN}\nCOMPOSE_PROJECT_NAME=shop\nCOMPOSE_FILE=c.yml\nIMAGE_TAG=v2\nREGISTRY=reg\nBERTH_UPSTREAMS=${product.stateDir}/upstreams\n${BLOCK_END}\n`,
    );
    expect(statSync(join(repoDir, '.env')).mode & 0o777).toBe(0o600);
    expect(ui.lines.join('\n')).toContain("your own IMAGE_TAG line no longer counts; berth's block below it sets IMAGE_TAG");
  });

  it('leaves a .env git tracks alone and says how to fix it', async () => {
    const repoDir = mkdtempSync(join(tmpdir(), 'berth-unit-repo-'));
    writeFileSync(join(repoDir, '.env'), 'A=1\n');
    const { ctx, ui } = deployContext({ ...shopProduct(WORKER_ONLY), repoDir }, [
      ...engineRows([]),
      [/^git -C \S+ ls-files -z -- \.env$/, { stdout: '.env\0' }],
    ]);
    await record.run(ctx);
    expect(readFileSync(join(repoDir, '.env'), 'utf8')).toBe('A=1\n');
    expect(ui.lines.join('\n')).toContain(`${repoDir}/.env is tracked by git, so berth did not write the deployed release into it`);
    expect(ui.lines.join('\n')).toContain('git rm --cached .env');
  });
});
