// Product hooks (lib/deploy/hooks.mts and the hook steps) over the fake runner: the argv and
// environment of each point, what a failure means at each point, redaction of named secrets in
// output and ledger, the timeout, the dry-run lines, and the schema's errors for hook fields.
import { describe, expect, it } from 'vitest';
import type { HookDef } from '../../lib/config/product-schema.mts';
import { validateProduct } from '../../lib/config/validate.mts';
import { EngineError, HealthError } from '../../lib/core/errors.mts';
import { createRedactor } from '../../lib/core/redact.mts';
import type { RunOptions } from '../../lib/core/runner.mts';
import { hookArgv, hookEnv, hookResults, routeUrl } from '../../lib/deploy/hooks.mts';
import { afterDeploy } from '../../lib/deploy/steps/after-deploy.mts';
import { afterRollback } from '../../lib/deploy/steps/after-rollback.mts';
import { beforeSwitch } from '../../lib/deploy/steps/before-switch.mts';
import { checks } from '../../lib/deploy/steps/checks.mts';
import { releaseRecord } from '../../lib/deploy/steps/record.mts';
import { appendRelease } from '../../lib/releases/ledger.mts';
import { deployOutcome } from '../../lib/deploy/deploy-product.mts';
import { webhookBody } from '../../lib/report/webhook.mts';
import type { Product } from '../../lib/config/load.mts';
import type { DeployOptions } from '../../lib/deploy/context.mts';
import { fakeRunner, type Row } from '../support/fake-runner.mts';
import { deployContext, shopProduct, WEB_BEHIND_PROXY } from './deploy-world.mts';

const COMPOSE_RUN = 'docker-compose --project-name shop --project-directory /srv/shop -f /srv/shop/c.yml run --rm --no-deps -T';

/** The fake runner, with a real redactor and the options and duration each probe had. */
function hookWorld(hooks: Partial<Record<string, HookDef[]>>, rows: Row[], options: Partial<DeployOptions> = {}, ms = 0) {
  const product: Product = shopProduct(WEB_BEHIND_PROXY);
  Object.assign(product.def, hooks);
  const { ctx, ui } = deployContext(product, [], options);
  const base = fakeRunner(rows, { dryRun: options.dryRun });
  const redactor = createRedactor();
  const probes: { argv: string; options: RunOptions }[] = [];
  ctx.runner = {
    ...base,
    redact: redactor.redact,
    addSecret: redactor.add,
    format: (argv) => redactor.redact(argv.join(' ')),
    async probe(argv, opts = {}) {
      probes.push({ argv: argv.join(' '), options: opts });
      return { ...(await base.probe(argv)), ms };
    },
  };
  ctx.plan = { web: { action: 'replace', reason: 'new image', strategy: 'start-first' }, worker: { action: 'keep', reason: 'same' } };
  return { ctx, ui, probes, product };
}

const HOST_CHECK: HookDef = { name: 'packages', command: ['./scripts/check.sh', '--all'], in: 'host' };

describe('hook environment', () => {
  it('gives every hook the deploy facts: product, release, previous release, changed services, who, kind', () => {
    const { ctx, product } = hookWorld({}, []);
    appendRelease(product.stateDir, { ...releaseRecord(ctx, 'ok', {}), tag: 'v1' });
    appendRelease(product.stateDir, { ...releaseRecord(ctx, 'failed', {}), tag: 'v1.5' });
    process.env.BERTH_WHO = 'ana';
    try {
      expect(hookEnv(ctx, HOST_CHECK)).toEqual({
        BERTH_PRODUCT: 'shop',
        BERTH_RELEASE: 'v2',
        BERTH_PREVIOUS: 'v1',
        BERTH_CHANGED: 'web',
        BERTH_WHO: 'ana',
        BERTH_KIND: 'deploy',
      });
    } finally {
      delete process.env.BERTH_WHO;
    }
  });

  it('says rollback for a rollback, and names the route URL when a service is routed', () => {
    const { ctx, product } = hookWorld({}, [], { kind: 'rollback' });
    (product.def.services as Record<string, unknown>).web = { kind: 'http', routes: [{ host: 'shop.test', path: '/api' }] };
    product.edge = { scheme: 'http' } as Product['edge'];
    expect(routeUrl(ctx)).toBe('http://shop.test/api');
    expect(hookEnv(ctx, HOST_CHECK)).toMatchObject({ BERTH_KIND: 'rollback', BERTH_URL: 'http://shop.test/api', BERTH_PREVIOUS: '' });
  });

  it('hands over the named secrets only, by value in the environment', () => {
    const { ctx } = hookWorld({}, []);
    const env = hookEnv(ctx, { ...HOST_CHECK, secrets: ['NPM_TOKEN'] }, { NPM_TOKEN: 'tok-12345', OTHER_TOKEN: 'nope-999' });
    expect(env.NPM_TOKEN).toBe('tok-12345');
    expect(env).not.toHaveProperty('OTHER_TOKEN');
  });
});

describe('hook argv', () => {
  it('a host hook runs its own argv in the checkout, with the facts in its environment', async () => {
    const { ctx, probes } = hookWorld({ checks: [HOST_CHECK] }, [[/^\.\/scripts\/check\.sh --all$/, {}]]);
    await checks.run(ctx);
    expect(probes).toHaveLength(1);
    expect(probes[0]?.argv).toBe('./scripts/check.sh --all');
    expect(probes[0]?.options).toMatchObject({ cwd: '/srv/shop', timeoutMs: 300_000, env: { BERTH_PRODUCT: 'shop', BERTH_RELEASE: 'v2' } });
    expect(hookResults(ctx)).toEqual([{ point: 'checks', name: 'packages', result: 'ok', exitCode: 0, ms: 0 }]);
  });

  it('a service hook is a named one-off compose run of that service, variables passed by name only', async () => {
    const hook: HookDef = { name: 'warm', command: ['node', 'warm.js'], in: 'web', secrets: ['API_TOKEN'], timeoutSeconds: 20 };
    const { ctx, probes } = hookWorld({ beforeSwitch: [hook] }, [[/ run --rm /, {}]]);
    process.env.API_TOKEN = 'sekrit-value';
    try {
      await beforeSwitch.run(ctx);
    } finally {
      delete process.env.API_TOKEN;
    }
    const argv = probes[0]?.argv ?? '';
    expect(argv).toMatch(
      new RegExp(
        `^${COMPOSE_RUN} --name shop-hook-warm-[0-9a-f]{6} -e BERTH_PRODUCT -e BERTH_RELEASE -e BERTH_PREVIOUS -e BERTH_CHANGED -e BERTH_WHO -e BERTH_KIND -e API_TOKEN web node warm.js$`.replaceAll(
          '/',
          '\\/',
        ),
      ),
    );
    expect(argv).not.toContain('sekrit-value');
    expect(probes[0]?.options.cwd).toBeUndefined();
    expect(probes[0]?.options).toMatchObject({ timeoutMs: 20_000, env: { IMAGE_TAG: 'v2', REGISTRY: 'reg', API_TOKEN: 'sekrit-value' } });
  });
});

describe('what a failure means at each point', () => {
  const failing: Row = [/^\.\/scripts\/check\.sh/, { exitCode: 3, stdout: 'l1\nl2\nl3\n', stderr: 'l4\nl5\nl6\nmissing @acme/ui@2.1.0\n' }];

  it('checks: an EngineError naming the check, with its last five output lines; later checks do not run', async () => {
    const { ctx, probes } = hookWorld({ checks: [HOST_CHECK, { name: 'later', command: ['true'] }] }, [failing]);
    const error = await checks.run(ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineError);
    expect((error as EngineError).message).toBe("checks 'packages' exited 3: missing @acme/ui@2.1.0; nothing was changed");
    expect((error as EngineError).details).toEqual(['l3', 'l4', 'l5', 'l6', 'missing @acme/ui@2.1.0']);
    expect(probes.map((p) => p.argv)).toEqual(['./scripts/check.sh --all']);
  });

  it('beforeSwitch: a HealthError, which the deploy undoes like a failed health check', async () => {
    const { ctx } = hookWorld({ beforeSwitch: [HOST_CHECK] }, [failing]);
    await expect(beforeSwitch.run(ctx)).rejects.toBeInstanceOf(HealthError);
    expect(hookResults(ctx)[0]).toMatchObject({ point: 'beforeSwitch', name: 'packages', result: 'failed', exitCode: 3 });
  });

  it('afterDeploy: a warning, every hook still runs, and the ledger record names them', async () => {
    const { ctx, ui } = hookWorld({ afterDeploy: [HOST_CHECK, { name: 'ping', command: ['curl', '-fsS', 'x'] }] }, [
      failing,
      [/^curl/, {}],
    ]);
    await afterDeploy.run(ctx);
    expect(ui.lines).toContain("warning: afterDeploy 'packages' exited 3: missing @acme/ui@2.1.0");
    const record = releaseRecord(ctx, 'ok', {});
    expect(record.hooks?.map((h) => [h.point, h.name, h.result])).toEqual([
      ['afterDeploy', 'packages', 'failed'],
      ['afterDeploy', 'ping', 'ok'],
    ]);
  });

  it('afterDeploy runs for deploys and afterRollback for rollbacks only', () => {
    const hooks = { afterDeploy: [HOST_CHECK], afterRollback: [HOST_CHECK] };
    const deploy = hookWorld(hooks, []).ctx;
    const rollback = hookWorld(hooks, [], { kind: 'rollback' }).ctx;
    expect([afterDeploy.enabled?.(deploy), afterRollback.enabled?.(deploy)]).toEqual([true, false]);
    expect([afterDeploy.enabled?.(rollback), afterRollback.enabled?.(rollback)]).toEqual([false, true]);
    expect(checks.enabled?.(hookWorld({}, []).ctx)).toBe(false);
  });

  it('a hook stopped at its timeout is timed-out, and its one-off container is removed by name', async () => {
    const hook: HookDef = { name: 'slow', command: ['sleep', '600'], in: 'web', timeoutSeconds: 2 };
    const { ctx, probes } = hookWorld(
      { beforeSwitch: [hook] },
      [
        [/ run --rm /, { exitCode: 128 }],
        [/^docker rm --force shop-hook-slow-/, {}],
      ],
      {},
      2_000,
    );
    const error = await beforeSwitch.run(ctx).catch((e: unknown) => e);
    expect((error as HealthError).message).toBe("beforeSwitch 'slow' was stopped after 2s");
    const name = /--name (\S+)/.exec(probes[0]?.argv ?? '')?.[1];
    expect(probes[1]?.argv).toBe(`docker rm --force ${name}`);
    expect(hookResults(ctx)[0]?.result).toBe('timed-out');
  });
});

describe('warnings', () => {
  it('a failed after hook is a warning in the outcome and in the webhook message, and the release stays ok', async () => {
    const { ctx } = hookWorld({ beforeSwitch: [HOST_CHECK], afterDeploy: [{ name: 'announce', command: ['./announce.sh'] }] }, [
      [/^\.\/scripts\/check\.sh/, {}],
      [/^\.\/announce\.sh$/, { exitCode: 7 }],
    ]);
    await beforeSwitch.run(ctx);
    await afterDeploy.run(ctx);
    const outcome = deployOutcome(ctx, 1000);
    expect(outcome).toMatchObject({ result: 'ok', warnings: ["afterDeploy 'announce' exited 7"] });
    const body = webhookBody([outcome], { command: 'deploy', who: 'ana', host: 'vm' });
    expect(body.attachments[0]?.fields).toContainEqual({ title: 'Warnings', value: "afterDeploy 'announce' exited 7", short: false });
  });
});

describe('secrets', () => {
  it('a named secret printed by a hook is redacted in the ui, the error and the ledger', async () => {
    process.env.NPM_TOKEN = 'npm-secret-4242';
    try {
      const { ctx, ui } = hookWorld(
        { afterDeploy: [{ ...HOST_CHECK, secrets: ['NPM_TOKEN'] }], checks: [{ ...HOST_CHECK, secrets: ['NPM_TOKEN'] }] },
        [[/^\.\/scripts\/check\.sh/, { exitCode: 1, stderr: 'auth failed with npm-secret-4242\n' }]],
      );
      await afterDeploy.run(ctx);
      const error = (await checks.run(ctx).catch((e: unknown) => e)) as EngineError;
      const record = JSON.stringify(releaseRecord(ctx, 'failed', {}));
      for (const text of [ui.lines.join('\n'), error.message, error.details.join('\n'), record]) {
        expect(text).not.toContain('npm-secret-4242');
        expect(text).toContain('auth failed with [REDACTED]');
      }
    } finally {
      delete process.env.NPM_TOKEN;
    }
  });
});

describe('dry run', () => {
  it('each hook step lists the exact argv it would run and runs nothing', async () => {
    const service: HookDef = { name: 'warm', command: ['node', 'warm.js'], in: 'web' };
    const { ctx, probes } = hookWorld({ checks: [HOST_CHECK], beforeSwitch: [service], afterDeploy: [HOST_CHECK] }, [], { dryRun: true });
    expect(await checks.skip?.(ctx)).toBe('dry run: would run checks packages: ./scripts/check.sh --all (in /srv/shop)');
    expect(await beforeSwitch.skip?.(ctx)).toBe(
      `dry run: would run beforeSwitch warm: ${COMPOSE_RUN} --name shop-hook-warm-<id> -e BERTH_PRODUCT -e BERTH_RELEASE -e BERTH_PREVIOUS -e BERTH_CHANGED -e BERTH_WHO -e BERTH_KIND web node warm.js`,
    );
    expect(await afterDeploy.skip?.(ctx)).toBe('dry run: would run afterDeploy packages: ./scripts/check.sh --all (in /srv/shop)');
    expect(hookArgv(ctx, HOST_CHECK)).toEqual(['./scripts/check.sh', '--all']);
    expect(probes).toEqual([]);
  });
});

describe('hook fields in a product file', () => {
  const base = () => ({ name: 'shop', repo: 'shop', composeFiles: ['c.yml'], services: { web: { kind: 'http' } } });

  it('a valid set of hooks passes', () => {
    const product = {
      ...base(),
      checks: [{ name: 'packages', command: ['./check.sh'], in: 'host', secrets: ['NPM_TOKEN'], timeoutSeconds: 60 }],
      beforeSwitch: [{ name: 'warm', command: ['node', 'warm.js'], in: 'web' }],
      afterDeploy: [{ name: 'a', command: ['true'] }],
      afterRollback: [{ name: 'a', command: ['true'] }],
      afterFailure: [{ name: 'a', command: ['true'] }],
    };
    expect(validateProduct(product).errors).toEqual([]);
  });

  it('reports every hook error with its path', () => {
    const product = {
      ...base(),
      checks: [
        { name: 'packages', command: './check.sh && curl x' },
        { name: 'packages', command: ['x'], in: 'db', secrets: ['not a name'], timeoutSeconds: 0, shell: true },
      ],
      afterDeploy: 'curl',
    };
    expect(validateProduct(product).errors).toEqual([
      'checks[0].command: expected a non-empty list of strings',
      'checks[1].timeoutSeconds: expected an integer from 1 to 3600',
      'checks[1].secrets[0]: expected an environment variable name',
      'checks[1].shell: unknown field (expected one of name, command, timeoutSeconds, in, secrets)',
      'afterDeploy: expected a list of { name, command, timeoutSeconds?, in?, secrets? }',
      "checks[1].in: expected 'host' or a service (web)",
      "checks[1].name: another checks entry is named 'packages'",
    ]);
  });

  it('a beforeBuild hook runs on the builder only: a service is refused', () => {
    const product = {
      ...base(),
      beforeBuild: [
        { name: 'packages', command: ['./check.sh'], in: 'web' },
        { name: 'lint', command: ['x'] },
      ],
    };
    expect(validateProduct(product).errors).toEqual([
      "beforeBuild[0].in: expected 'host': beforeBuild runs on the builder, before the release's images exist",
    ]);
  });

  it('refuses a hook in an unknown service and two hooks of one point with one name', () => {
    const product = {
      ...base(),
      checks: [
        { name: 'packages', command: ['x'] },
        { name: 'packages', command: ['x'], in: 'db' },
      ],
      afterDeploy: [{ name: 'packages', command: ['x'] }],
    };
    expect(validateProduct(product).errors).toEqual([
      "checks[1].in: expected 'host' or a service (web)",
      "checks[1].name: another checks entry is named 'packages'",
    ]);
  });
});
