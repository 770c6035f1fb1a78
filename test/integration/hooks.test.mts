// Product hooks on the real engine: a failing check stops a deploy before anything changes, a
// failing beforeSwitch is undone with no failed request under load, a failing afterDeploy leaves
// the release ok with a warning, an afterFailure hook is named in the failed release's ledger
// record, and a hook that hangs in a one-off container is stopped at its
// timeout with its container removed. The hooks read the test's switches from the environment.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listContainers } from '../../lib/engine/engine.mts';
import { readLedger } from '../../lib/releases/ledger.mts';
import { containerIds, makeProxiedProduct, type FixtureProduct } from '../rig/fixture-product.mts';
import { engineAvailable, rigRunner, underLoad, usePrefix, useRegistry } from '../rig/index.mts';

describe.skipIf(!engineAvailable)('product hooks', () => {
  const prefix = usePrefix();
  const registry = useRegistry();
  let product: FixtureProduct;
  let url: string;
  let scratch: string;

  const ledger = () => readLedger(join(product.stateDir, product.name));
  /** The hooks the newest ledger record names: point, name, result. */
  const lastHooks = () =>
    ledger()
      .at(-1)
      ?.hooks?.map((h) => [h.point, h.name, h.result]);
  const deploy = (tag: string, env: Record<string, string> = {}) => product.berth([product.name, '--tag', tag], { env });
  const webIds = async () => (await listContainers(rigRunner, product.name, 'web', true)).filter((c) => c.running).map((c) => c.id);

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), `${prefix}-hooks-`));
    product = await makeProxiedProduct({
      prefix,
      registry: registry.address,
      productExtra: `  checks: [{ name: 'gate', command: ['sh', '-c', 'echo checking $BERTH_RELEASE; [ "$HOOK_FAIL" != checks ] || { echo packages missing; exit 4; }'] }],
  beforeSwitch: [{ name: 'verify', command: ['sh', '-c', '[ "$HOOK_FAIL" != beforeSwitch ] || { echo verify says no; exit 1; }'] }],
  afterDeploy: [
    { name: 'notify', command: ['sh', '-c', '[ -z "$FACTS" ] || env | grep ^BERTH_ > "$FACTS"; [ "$HOOK_FAIL" != afterDeploy ] || { echo notifier down; exit 2; }'] },
    { name: 'hang', in: 'web', command: ['sh', '-c', '[ "$HOOK_HANG" != yes ] || sleep 600'], secrets: ['HOOK_HANG'], timeoutSeconds: 3 },
  ],
  afterFailure: [{ name: 'page', command: ['sh', '-c', 'echo paging about $BERTH_RELEASE; exit 6'] }],`,
    });
    await product.pushApp('web', 'v1');
    await product.pushApp('web', 'v2');
    const first = await deploy('v1');
    expect(first.exitCode, first.stderr).toBe(0);
    url = await product.proxyUrl();
  }, 300_000);
  afterAll(async () => {
    await product?.remove();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('a failing check stops the deploy before any container changes and records nothing', async () => {
    const ids = await containerIds(product);
    const before = ledger();
    const result = await deploy('v2', { HOOK_FAIL: 'checks' });
    expect(result.exitCode, result.stderr).toBe(3);
    expect(result.stderr).toContain("checks 'gate' exited 4: packages missing; nothing was changed");
    expect(await containerIds(product)).toEqual(ids);
    expect(ledger()).toEqual(before);
  }, 120_000);

  it('a failing beforeSwitch is undone like a failed health check, with no failed request under load', async () => {
    const ids = await webIds();
    const { value: result, report } = await underLoad(url, () => deploy('v2', { HOOK_FAIL: 'beforeSwitch' }), { maxMs: 300_000 });
    const seen = JSON.stringify(report);
    expect(result.exitCode, result.stderr).toBe(5);
    expect(result.stderr).toContain("beforeSwitch 'verify' exited 1: verify says no");
    expect(result.stderr).toContain("warning: afterFailure 'page' exited 6: paging about v2");
    expect(report.failed - report.newConnectionResets, seen).toBe(0);
    expect(report.newConnectionResets, seen).toBeLessThanOrEqual(1);
    expect(Object.keys(report.bodies), seen).toEqual(['v1']);
    expect(await webIds()).toEqual(ids);
    expect(ledger().at(-1)).toMatchObject({ tag: 'v2', result: 'failed' });
    expect(lastHooks()).toEqual([
      ['checks', 'gate', 'ok'],
      ['beforeSwitch', 'verify', 'failed'],
      ['afterFailure', 'page', 'failed'],
    ]);
  }, 300_000);

  it('a failing afterDeploy leaves the release ok with a warning, and every hook got the deploy facts', async () => {
    const facts = join(scratch, 'facts');
    const result = await deploy('v2', { HOOK_FAIL: 'afterDeploy', FACTS: facts });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toContain("warning: afterDeploy 'notify' exited 2: notifier down");
    expect(ledger().at(-1)).toMatchObject({ tag: 'v2', result: 'ok' });
    expect(lastHooks()).toEqual([
      ['checks', 'gate', 'ok'],
      ['beforeSwitch', 'verify', 'ok'],
      ['afterDeploy', 'notify', 'failed'],
      ['afterDeploy', 'hang', 'ok'],
    ]);
    const env = Object.fromEntries(
      readFileSync(facts, 'utf8')
        .trim()
        .split('\n')
        .map((line) => line.split(/=(.*)/s).slice(0, 2)),
    );
    expect(env).toMatchObject({
      BERTH_PRODUCT: product.name,
      BERTH_RELEASE: 'v2',
      BERTH_PREVIOUS: 'v1',
      BERTH_CHANGED: 'web',
      BERTH_KIND: 'deploy',
    });
    expect(env.BERTH_WHO).toBeTruthy();
  }, 300_000);

  it('a hook that hangs in a one-off container is stopped at its timeout and its container removed', async () => {
    const result = await deploy('v1', { HOOK_HANG: 'yes' });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toContain("warning: afterDeploy 'hang' was stopped after 3s");
    expect(ledger().at(-1)).toMatchObject({ tag: 'v1', result: 'ok' });
    expect(
      ledger()
        .at(-1)
        ?.hooks?.find((h) => h.name === 'hang'),
    ).toMatchObject({ result: 'timed-out' });
    const left = await rigRunner.read(['docker', 'ps', '--all', '--quiet', '--filter', `name=${product.name}-hook-`]);
    expect(left).toBe('');
  }, 300_000);
});
