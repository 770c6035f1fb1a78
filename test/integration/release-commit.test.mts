// The release is the commit, on the VM too: a deploy or rollback of SHA X runs X's images with X's
// compose files, whatever the checkout held before, and leaves the checkout at X. Commit c2 adds
// `environment: { MSG: two }` to web; each case asserts the running container's image and env.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineAvailable, rigRunner, usePrefix, useRegistry } from '../rig/index.mts';
import { fixtureCompose, makeFixtureProduct, runningContainers, type FixtureProduct } from '../rig/fixture-product.mts';
import { readLedger } from '../../lib/releases/ledger.mts';
import { detectCompose } from '../../lib/engine/compose.mts';

const WEB = `health: { path: '/healthz', port: 8080, timeoutSeconds: 20 }`;

describe.skipIf(!engineAvailable)('the release is the commit: config and images from one SHA', () => {
  const prefix = usePrefix();
  const registry = useRegistry();
  let product: FixtureProduct;
  let c1: string;
  let c2: string;
  let c3Sha: string;
  const remote = mkdtempSync(join(tmpdir(), `${prefix}-remote-`));

  const git = (...args: string[]) => execFileSync('git', ['-C', product.repo.dir, ...args], { encoding: 'utf8' }).trim();
  const ledger = () => readLedger(join(product.stateDir, product.name));
  /** The running web container's image tag and its MSG variable. */
  async function running(): Promise<{ tag: string; msg: string | undefined }> {
    const [web] = await runningContainers(product, 'web');
    const env = JSON.parse(await rigRunner.read(['docker', 'inspect', '--format', '{{json .Config.Env}}', web?.id as string])) as string[];
    return { tag: web?.image.split(':').pop() as string, msg: env.find((e) => e.startsWith('MSG='))?.slice(4) };
  }

  beforeAll(async () => {
    product = await makeFixtureProduct({ prefix, registry: registry.address, services: { web: { product: WEB } } });
    c1 = product.repo.sha;
    c2 = await product.repo.commit(
      { 'compose.yaml': fixtureCompose(prefix, { web: { compose: ['environment: { MSG: two }'] } }) },
      'c2: MSG',
    );
    await product.pushApp('web', c1);
    await product.pushApp('web', c2);
  });
  afterAll(() => {
    rmSync(remote, { recursive: true, force: true });
    return product?.remove();
  });

  it("deploys c2's config with c2's image while the checkout is still at c1, and leaves the checkout at c2", async () => {
    // c1 deployed: the checkout (at c2, where the fixture's history ends) goes to c1.
    const first = await product.berth([product.name, '--tag', c1]);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(await running()).toEqual({ tag: c1, msg: undefined });
    expect(git('rev-parse', 'HEAD')).toBe(c1);
    // CI pushed c2; nobody touched the VM's checkout, still at c1.
    const result = await product.berth([product.name, '--tag', c2]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(await running()).toEqual({ tag: c2, msg: 'two' });
    expect(git('rev-parse', 'HEAD')).toBe(c2);
    expect(ledger().at(-1)).toMatchObject({ tag: c2, result: 'ok', config: c2 });
    // The commit's own time, for the delivery report's lead time where the repo is not at hand.
    expect(ledger().at(-1)?.committedAt).toBe(git('show', '-s', '--format=%cI', c2));
  });

  it("rolls back to c1 with c1's config, not the checkout's: image and environment both c1's", async () => {
    const result = await product.berth([product.name, c1], { script: 'rollback' });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(await running()).toEqual({ tag: c1, msg: undefined });
    expect(git('rev-parse', 'HEAD')).toBe(c1);
    expect(ledger().at(-1)).toMatchObject({ tag: c1, kind: 'rollback', config: c1 });
  });

  it("--image-only rolls back the images alone, under the checkout's config (an emergency)", async () => {
    const result = await product.berth([product.name, c2, '--image-only'], { script: 'rollback' });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(await running()).toEqual({ tag: c2, msg: undefined });
    expect(git('rev-parse', 'HEAD')).toBe(c1);
    expect(ledger().at(-1)).toMatchObject({ tag: c2, kind: 'rollback', config: c1 });
  });

  it('refuses a checkout whose tracked files have local edits, naming them, and touches nothing; --allow-dirty deploys them and the ledger says so', async () => {
    git('checkout', '--quiet', '--detach', c2);
    const [before] = await runningContainers(product, 'web');
    writeFileSync(join(product.repo.dir, 'compose.yaml'), fixtureCompose(prefix, { web: { compose: ['environment: { MSG: local }'] } }));
    const refused = await product.berth([product.name, '--tag', c2]);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain(`error: ${product.repo.dir} has local edits to tracked files: compose.yaml; nothing was changed`);
    expect((await runningContainers(product, 'web')).map((c) => c.id)).toEqual([before?.id]);

    const allowed = await product.berth([product.name, '--tag', c2, '--allow-dirty']);
    expect(allowed.exitCode, allowed.stderr).toBe(0);
    expect(allowed.stderr).toContain('deploying local edits to compose.yaml (--allow-dirty, recorded in the ledger)');
    expect(await running()).toEqual({ tag: c2, msg: 'local' });
    expect(ledger().at(-1)).toMatchObject({ tag: c2, result: 'ok', config: c2, dirty: ['compose.yaml'] });
    git('checkout', '--quiet', '--', 'compose.yaml');
  });

  it("fetches a SHA the checkout does not have from the product's remote, then deploys it", async () => {
    // The remote as CI pushes to it: a bare repository, and a commit made in another clone.
    execFileSync('git', ['clone', '--quiet', '--bare', product.repo.dir, join(remote, 'origin.git')]);
    git('remote', 'add', 'origin', join(remote, 'origin.git'));
    const elsewhere = join(remote, 'work');
    execFileSync('git', ['clone', '--quiet', join(remote, 'origin.git'), elsewhere]);
    const inOther = (...args: string[]) => execFileSync('git', ['-C', elsewhere, ...args], { encoding: 'utf8' }).trim();
    inOther('config', 'user.email', 'tests@berth.invalid');
    inOther('config', 'user.name', 'berth tests');
    inOther('checkout', '--quiet', '--detach', c2);
    writeFileSync(join(elsewhere, 'compose.yaml'), fixtureCompose(prefix, { web: { compose: ['environment: { MSG: three }'] } }));
    inOther('commit', '--quiet', '-am', 'c3: MSG three');
    const c3 = inOther('rev-parse', 'HEAD');
    inOther('push', '--quiet', 'origin', 'HEAD:refs/heads/main');
    await product.pushApp('web', c3);
    expect(() => git('cat-file', '-e', `${c3}^{commit}`)).toThrow();

    const result = await product.berth([product.name, '--tag', c3]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(await running()).toEqual({ tag: c3, msg: 'three' });
    expect(git('rev-parse', 'HEAD')).toBe(c3);
    c3Sha = c3;
  });

  it('applies a config that never reached the containers: status flags a Compose run by hand, and a deploy of the same release replaces it', async () => {
    // Someone edits the checkout and runs Compose by hand, then puts the file back.
    writeFileSync(join(product.repo.dir, 'compose.yaml'), fixtureCompose(prefix, { web: { compose: ['environment: { MSG: by-hand }'] } }));
    const flavour = await detectCompose(rigRunner);
    await rigRunner.run([...flavour.bin, '--project-name', product.name, 'up', '--detach', '--no-deps', 'web'], {
      cwd: product.repo.dir,
      env: { IMAGE_TAG: c3Sha, REGISTRY: registry.address },
    });
    git('checkout', '--quiet', '--', 'compose.yaml');
    expect(await running()).toEqual({ tag: c3Sha, msg: 'by-hand' });
    const flagged = await product.berth([product.name, '--json'], { script: 'status' });
    const web = () => (JSON.parse(flagged.stdout) as StatusJson).products[0]?.services.find((s) => s.service === 'web');
    expect(web()).toMatchObject({ tag: c3Sha, matchesLedger: true, configMatches: false });
    const human = await product.berth([product.name], { script: 'status' });
    expect(human.stdout + human.stderr).toContain(`(config differs from ${c3Sha.slice(0, 12)}'s: deploy it again to apply it)`);

    // No --tag: the tip of origin/main, which is c3, the release already recorded.
    const result = await product.berth([product.name, '--json']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toContain(`deploying ${c3Sha.slice(0, 12)}, the tip of origin/main`);
    const plan = (JSON.parse(result.stdout) as { plan: Record<string, { reason: string }> }).plan;
    expect(plan.web?.reason).toMatch(/ runs another config than [0-9a-f]{7}'s$/);
    expect(await running()).toEqual({ tag: c3Sha, msg: 'three' });
    const after = await product.berth([product.name, '--json'], { script: 'status' });
    const fixed = (JSON.parse(after.stdout) as StatusJson).products[0]?.services.find((s) => s.service === 'web');
    expect(fixed?.configMatches).toBe(true);
  });

  it('deploys the tip of the remote branch when no --tag is given; refuses while CI has not pushed its images, naming the newest deployable commit; --wait-for-images waits for them', async () => {
    const elsewhere = join(remote, 'work');
    const inOther = (...args: string[]) => execFileSync('git', ['-C', elsewhere, ...args], { encoding: 'utf8' }).trim();
    writeFileSync(join(elsewhere, 'compose.yaml'), fixtureCompose(prefix, { web: { compose: ['environment: { MSG: four }'] } }));
    inOther('commit', '--quiet', '-am', 'c4: MSG four');
    const c4 = inOther('rev-parse', 'HEAD');
    inOther('push', '--quiet', 'origin', 'HEAD:refs/heads/main');
    const [before] = await runningContainers(product, 'web');

    const refused = await product.berth([product.name]);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain(
      `error: the images of ${c4.slice(0, 12)} (tip of origin/main) are not in the registry yet (web); the newest commit of origin/main whose images are all there is ${c3Sha.slice(0, 12)}; nothing was changed: deploy --tag ${c3Sha.slice(0, 12)}, or wait for CI with --wait-for-images[=DURATION]`,
    );
    expect((await runningContainers(product, 'web')).map((c) => c.id)).toEqual([before?.id]);
    expect(git('rev-parse', 'HEAD')).toBe(c3Sha);

    // CI pushes the image while berth waits for it.
    const waiting = product.berth([product.name, '--wait-for-images=2m']);
    await sleep(1_500);
    await product.pushApp('web', c4);
    const result = await waiting;
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toContain(`waiting up to 120 s for CI to push web`);
    expect(await running()).toEqual({ tag: c4, msg: 'four' });
    expect(git('rev-parse', 'HEAD')).toBe(c4);
    expect(ledger().at(-1)).toMatchObject({ tag: c4, result: 'ok', config: c4 });
  });
});

interface StatusJson {
  products: { services: { service: string; tag?: string; matchesLedger: boolean; configMatches?: boolean }[] }[];
}
