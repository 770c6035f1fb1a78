// The changes step with a fake runner answering from a command table: which git and compose
// reads it makes, and what it decides from them. An unknown command fails the test. The registry
// is a host:port where nothing listens (the digest check cannot ask it, so git decides), or a fake
// digest lookup handed to detectChanges.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Product, Settings } from '../../lib/config/load.mts';
import type { DeployContext } from '../../lib/deploy/context.mts';
import { createDeployContext } from '../../lib/deploy/deploy-product.mts';
import type { ContainerState } from '../../lib/engine/engine.mts';
import type { Runner } from '../../lib/core/runner.mts';
import { appendRelease, type ReleaseRecord } from '../../lib/releases/ledger.mts';
import { changes } from '../../lib/deploy/steps/changes.mts';
import { detectChanges } from '../../lib/deploy/plan/change-facts.mts';
import { silentUi } from '../../lib/core/ui.mts';
import { containerState } from '../support/containers.mts';
import { fakeRunner, type Row } from '../support/fake-runner.mts';
import type { TagDigests } from '../../lib/registry/digest-lookup.mts';

const OLD = 'aaaaaaa000000000000000000000000000000001'; // api was last deployed here
const MID = 'bbbbbbb000000000000000000000000000000002'; // the recorded release; web deployed here
const NEW = 'ccccccc000000000000000000000000000000003'; // the target

let REG = '';

function container(service: string, imageId: string): ContainerState {
  return containerState({ id: `${service}-1`, name: service, service, imageId });
}

describe('the changes step', () => {
  beforeAll(async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    REG = `127.0.0.1:${(probe.address() as AddressInfo).port}`;
    await new Promise((resolve) => probe.close(resolve));
  });

  let repo: string;
  let state: string;
  let product: Product;

  beforeEach(() => {
    repo = mkdtempSync(join(tmpdir(), 'berth-unit-repo-'));
    state = mkdtempSync(join(tmpdir(), 'berth-unit-state-'));
    writeFileSync(join(repo, 'compose.yaml'), 'services:\n  web:\n    image: x\n  api:\n    image: y\n');
    product = {
      def: { name: 'shop', repo, composeFiles: ['compose.yaml'], services: {} },
      name: 'shop',
      file: '/products/shop.mts',
      repoDir: repo,
      composeFiles: ['compose.yaml'],
      branch: 'main',
      projectName: 'shop',
      registry: REG,
      stateDir: state,
      services: {
        web: { name: 'web', kind: 'http', repository: `${REG}/shop-web`, build: { context: 'web' } },
        api: { name: 'api', kind: 'http', repository: `${REG}/shop-api`, build: { context: 'api', paths: ['shared'] } },
      },
    };
  });
  afterEach(() => {
    rmSync(repo, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  });

  function record(tag: string, images: Record<string, string>): void {
    const services = Object.fromEntries(
      Object.entries(images).map(([s, t]) => [s, { image: `${REG}/shop-${s}:${t}`, id: `sha256:${s}${t.slice(0, 6)}` }]),
    );
    const entry: ReleaseRecord = {
      time: new Date(Date.now() + 60_000).toISOString(),
      who: 't',
      host: 'h',
      product: 'shop',
      tag,
      kind: 'deploy',
      result: 'ok',
      services,
      changed: [],
    };
    appendRelease(state, entry);
  }

  function context(runner: Runner, tag = NEW, options: Partial<DeployContext['options']> = {}): DeployContext {
    const settings = { env: {} } as Settings;
    const ctx = createDeployContext(product, settings, runner, silentUi(), { tag, ...options });
    const flavour = { name: 'v1' as const, bin: ['docker-compose'], version: '1.29.2' };
    ctx.found = {
      flavour,
      project: { flavour, name: 'shop', directory: repo, files: [join(repo, 'compose.yaml')] },
      compose: { services: {}, top: {} },
    };
    ctx.plan = { web: { action: 'replace', reason: 'selected' }, api: { action: 'replace', reason: 'selected' } };
    ctx.before = { web: [container('web', `sha256:web${MID.slice(0, 6)}`)], api: [container('api', `sha256:api${OLD.slice(0, 6)}`)] };
    ctx.found.compose.services = { web: { image: `${REG}/shop-web:${NEW}` }, api: { image: `${REG}/shop-api:${NEW}` } };
    return ctx;
  }

  const commits: Row = [/rev-parse --verify (\w+)\^\{commit\}/, (argv) => ({ stdout: `${/(\w{40})\^/.exec(argv.join(' '))?.[1]}\n` })];
  const tracked: Row = [/ls-files -z -- compose\.yaml$/, { stdout: 'compose.yaml\0' }];

  it('diffs each service from the commit its running image came from, and keeps the unchanged one', async () => {
    record(MID, { web: MID, api: OLD });
    const runner = fakeRunner([
      commits,
      tracked,
      [new RegExp(`diff --name-only --relative -z ${OLD} ${NEW} --$`), { stdout: 'shared/money.ts\0web/README.md\0' }],
      [new RegExp(`diff --name-only --relative -z ${MID} ${NEW} --$`), { stdout: 'shared/money.ts\0' }],
      [new RegExp(`diff --name-only --relative -z ${MID} -- compose.yaml .env$`), { stdout: '' }],
    ]);
    const ctx = context(runner);
    await changes.run(ctx);
    expect(ctx.plan).toEqual({
      web: { action: 'keep', reason: 'unchanged since bbbbbbb' },
      api: { action: 'replace', reason: 'shared/money.ts changed since aaaaaaa' },
    });
    expect(ctx.targets).toEqual(['api']);
    // No config input changed since web's commit: no compose call at all.
    expect(runner.calls.some((c) => c.startsWith('docker-compose'))).toBe(false);
    // The registry did not answer: no running image was inspected for a digest to compare.
    expect(runner.calls.some((c) => c.startsWith('docker image inspect'))).toBe(false);
  });

  it('compares the resolved config at the base with the target, paths and key order aside', async () => {
    record(MID, { web: MID, api: MID });
    const oldCompose = 'services:\n  web:\n    image: x\n    environment: [A=1]\n  api:\n    image: y\n';
    const runner = fakeRunner([
      commits,
      tracked,
      [new RegExp(`diff --name-only --relative -z ${MID} ${NEW} --$`), { stdout: 'compose.yaml\0' }],
      [new RegExp(`diff --name-only --relative -z ${MID} -- compose.yaml .env$`), { stdout: 'compose.yaml\0' }],
      [new RegExp(`show ${MID}:./compose.yaml$`), { stdout: oldCompose }],
      [new RegExp(`show ${MID}:./.env$`), { exitCode: 128, stderr: 'fatal: path does not exist' }],
      [
        /^docker-compose .* config$/,
        (argv) => {
          const temp = argv[argv.indexOf('--project-directory') + 1] as string;
          expect(argv.join(' ')).toContain(`-f ${temp}/compose.yaml`);
          return {
            stdout: `services:\n  api:\n    volumes: ['${temp}/data:/data']\n    image: ${REG}/shop-api:${NEW}\n  web:\n    environment: {A: '1'}\n    image: ${REG}/shop-web:${NEW}\n`,
          };
        },
      ],
    ]);
    const ctx = context(runner);
    ctx.before.api = [container('api', `sha256:api${MID.slice(0, 6)}`)];
    ctx.found!.compose.services = {
      web: { image: `${REG}/shop-web:${NEW}`, environment: { A: '2' } } as never,
      api: { volumes: [`${repo}/data:/data`], image: `${REG}/shop-api:${NEW}` } as never,
    };
    const decisions = await detectChanges(ctx, ['web', 'api']);
    expect(decisions.web).toEqual({ changed: true, force: true, reason: 'compose config changed since bbbbbbb (environment)' });
    expect(decisions.api).toEqual({ changed: false, reason: 'unchanged since bbbbbbb' });
  });

  it('a running image that is not the recorded one is a change, whatever git says', async () => {
    record(MID, { web: MID, api: OLD });
    const runner = fakeRunner([commits, tracked, [/diff --name-only/, { stdout: '' }]]);
    const ctx = context(runner);
    ctx.before.web = [container('web', 'sha256:0123456789abcdef0123')];
    const decisions = await detectChanges(ctx, ['web']);
    expect(decisions.web?.reason).toBe('runs image 0123456789ab, not webbbbbbb recorded for bbbbbbb');
  });

  it('a tag that is not a commit, and a rollback, compare images without diffing', async () => {
    record(MID, { web: MID, api: MID });
    const notCommit = fakeRunner([[/rev-parse/, { exitCode: 128, stderr: 'fatal: needed a single revision' }]]);
    const hotfix = await detectChanges(context(notCommit, 'deadbee'), ['web']);
    expect(hotfix.web?.reason).toBe(`tag deadbee is not a commit in ${repo}: comparing images`);
    expect(notCommit.calls).toHaveLength(1);

    const nothing = fakeRunner([]);
    const named = await detectChanges(context(nothing, 'v2'), ['web']);
    expect(named.web?.reason).toBe(`tag v2 is not a commit in ${repo}: comparing images`);
    const rollback = await detectChanges(context(nothing, MID, { kind: 'rollback' }), ['web', 'api']);
    expect(rollback.api?.reason).toBe('rollback: comparing images');
    expect(nothing.calls).toEqual([]);
  });

  it('selects everything on the first deploy and with --all, without asking git', async () => {
    const nothing = fakeRunner([]);
    expect((await detectChanges(context(nothing), ['web'])).web?.reason).toBe('first deploy: no release recorded');
    record(MID, { web: MID, api: MID });
    expect((await detectChanges(context(nothing, NEW, { all: true }), ['web'])).web).toEqual({
      changed: true,
      force: true,
      reason: '--all',
    });
    expect(nothing.calls).toEqual([]);
  });

  describe('the registry digest of a service git keeps', () => {
    const D1 = `sha256:${'1'.repeat(64)}`;
    const D2 = `sha256:${'2'.repeat(64)}`;
    const WEB_IMAGE = `sha256:web${MID.slice(0, 6)}`;
    const API_IMAGE = `sha256:api${MID.slice(0, 6)}`;
    const unchanged: Row[] = [commits, tracked, [/diff --name-only/, { stdout: '' }]];

    /** A registry answering per repository, recording what it was asked. */
    function registry(answers: Record<string, Awaited<ReturnType<TagDigests>>>): TagDigests & { asked: string[] } {
      const asked: string[] = [];
      const lookup: TagDigests = async (repository, tag) => {
        asked.push(`${repository.slice(REG.length + 1)}:${tag.slice(0, 7)}`);
        return answers[repository.slice(REG.length + 1)] ?? { unknown: 'no answer set' };
      };
      return Object.assign(lookup, { asked });
    }
    /** `docker image inspect` of local images, each known by these repo digests. */
    const inspect = (digests: Record<string, string[]>): Row => [
      /^docker image inspect \S+$/,
      (argv) => ({ stdout: JSON.stringify([{ Id: argv[3], RepoDigests: digests[argv[3] ?? ''] ?? [] }]) }),
    ];
    const debugLines = (ctx: DeployContext): string[] => {
      const lines: string[] = [];
      ctx.ui = { ...ctx.ui, debug: (message) => void lines.push(message) };
      return lines;
    };

    it('changes a service whose tag names another image than the one it runs, unforced, asking only for kept services', async () => {
      record(MID, { web: MID, api: OLD });
      const runner = fakeRunner([
        commits,
        tracked,
        [new RegExp(`diff --name-only --relative -z ${OLD} ${NEW} --$`), { stdout: 'shared/money.ts\0' }],
        [/diff --name-only/, { stdout: '' }],
        inspect({ [WEB_IMAGE]: [`${REG}/shop-web@${D1}`, `elsewhere/shop-web@${D2}`] }),
      ]);
      const lookup = registry({ 'shop-web': { digest: D2 } });
      const decisions = await detectChanges(context(runner), ['web', 'api'], lookup);
      expect(decisions.web).toEqual({
        changed: true,
        reason:
          'its image for ccccccc is not the one running (registry 222222222222, running 111111111111: rebuilt with other build args or base image)',
      });
      expect(decisions.api?.reason).toBe('shared/money.ts changed since aaaaaaa');
      // api changed anyway: one HEAD, for web.
      expect(lookup.asked).toEqual(['shop-web:ccccccc']);
    });

    it('keeps services whose running image is the one the registry has for the tag', async () => {
      record(MID, { web: MID, api: MID });
      const runner = fakeRunner([
        ...unchanged,
        inspect({ [WEB_IMAGE]: [`${REG}/shop-web@${D1}`], [API_IMAGE]: [`${REG}/shop-api@${D2}`] }),
      ]);
      const ctx = context(runner);
      ctx.before.api = [container('api', API_IMAGE)];
      const lookup = registry({ 'shop-web': { digest: D1 }, 'shop-api': { digest: D2 } });
      const decisions = await detectChanges(ctx, ['web', 'api'], lookup);
      expect(decisions).toEqual({
        web: { changed: false, reason: 'unchanged since bbbbbbb' },
        api: { changed: false, reason: 'unchanged since bbbbbbb' },
      });
      expect(lookup.asked.sort()).toEqual(['shop-api:ccccccc', 'shop-web:ccccccc']);
    });

    it('an image that never came from the registry (built here) is compared after a pull', async () => {
      record(MID, { web: MID, api: MID });
      const runner = fakeRunner([...unchanged, inspect({})]);
      const decisions = await detectChanges(context(runner), ['web'], registry({ 'shop-web': { digest: D1 } }));
      expect(decisions.web).toEqual({
        changed: true,
        reason: `its image for ccccccc is not the one running (the running image has no digest from ${REG}/shop-web)`,
      });
    });

    it("keeps git's decision when the registry cannot answer, and says why in a debug line", async () => {
      record(MID, { web: MID, api: MID });
      const runner = fakeRunner(unchanged);
      const ctx = context(runner);
      const debug = debugLines(ctx);
      const lookup = registry({ 'shop-web': { unknown: `the registry has no ${REG}/shop-web:${NEW}` } });
      const decisions = await detectChanges(ctx, ['web'], lookup);
      expect(decisions.web).toEqual({ changed: false, reason: 'unchanged since bbbbbbb' });
      expect(debug).toContain(`web: image not compared with the registry's (the registry has no ${REG}/shop-web:${NEW})`);
      expect(runner.calls.some((c) => c.startsWith('docker image inspect'))).toBe(false);

      // A lookup that throws is no failure either.
      const broken: TagDigests = () => Promise.reject(new Error('socket hang up'));
      expect((await detectChanges(context(fakeRunner(unchanged)), ['web'], broken)).web?.changed).toBe(false);
    });

    it('does not ask the registry with --build-on-vm or offline', async () => {
      record(MID, { web: MID, api: MID });
      for (const [options, why] of [
        [{ buildOnVm: true }, '--build-on-vm'],
        [{ offline: true }, 'offline'],
      ] as const) {
        const ctx = context(fakeRunner(unchanged), NEW, options);
        const debug = debugLines(ctx);
        const lookup = registry({ 'shop-web': { digest: D1 } });
        expect((await detectChanges(ctx, ['web'], lookup)).web?.reason).toBe('unchanged since bbbbbbb');
        expect(lookup.asked).toEqual([]);
        expect(debug).toContain(`web: image not compared with the registry's (${why})`);
      }
    });
  });
});
