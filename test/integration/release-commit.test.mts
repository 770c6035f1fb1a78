// The release is the commit, on the VM too: a deploy or rollback of SHA X runs X's images with X's
// compose files, whatever the checkout held before, and leaves the checkout at X. Commit c2 adds
// `environment: { MSG: two }` to web; each case asserts the running container's image and env.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineAvailable, rigRunner, usePrefix, useRegistry } from '../rig/index.mts';
import { fixtureCompose, makeFixtureProduct, runningContainers, type FixtureProduct } from '../rig/fixture-product.mts';
import { readLedger } from '../../lib/releases/ledger.mts';

const WEB = `health: { path: '/healthz', port: 8080, timeoutSeconds: 20 }`;

describe.skipIf(!engineAvailable)('the release is the commit: config and images from one SHA', () => {
  const prefix = usePrefix();
  const registry = useRegistry();
  let product: FixtureProduct;
  let c1: string;
  let c2: string;
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
  });
});
