// `deploy <product>`: flags -> product -> steps. Shared by scripts/deploy.mts and the per-product
// entry scripts, which only fix the product name.
import { gitRevParse } from '../commands/git.mts';
import { helpAsked, parse, splitList } from '../core/cli.mts';
import { loadProduct, loadSettings, type Product, type Settings } from '../config/load.mts';
import type { DeployOptions } from '../deploy/context.mts';
import { createDeployContext, deployProduct, type DeployRun } from '../deploy/deploy-product.mts';
import { UsageError } from '../core/errors.mts';
import { runMeta } from '../report/metrics.mts';
import { finishRun } from '../report/finish.mts';
import { createRunner, type Runner } from '../core/runner.mts';
import type { Ui } from '../core/ui.mts';

export const DEPLOY_USAGE = `usage: npx zx scripts/deploy.mts <product> [options]

Pulls the release's images from the registry and replaces only the services whose image changed.
The VM never builds.

HTTP services behind the product's Caddy (kind proxy) switch without a gap: the new container
starts beside the old one, must answer its health path, then Caddy's upstream file is rewritten
and reloaded, smoke checks run through Caddy for monitorSeconds, and the old container drains and
goes. Workers overlap the same way. Stateful services, and services with a fixed host port or
container_name, are replaced stop-first. A migration (product migrate) runs from the new image
first. Any failure puts traffic back on the old containers and records both releases.

Only what changed since the release the ledger records as deployed is touched; the plan gives
every service its reason ("web: web/src/app.ts changed since 3f2a91c", "worker: unchanged since
3f2a91c"). A service changed when a file under its build.context, build.dockerfile or build.paths
(product file, relative to the repo) changed between the deployed commit and --tag, or when its
resolved compose config changed (compose files, .env, env_file files: \`config\` output at the
deployed commit against the work tree, image tag aside), or when its container does not run the
recorded image. Unchanged services are not pulled and keep their containers. The first deploy,
tags that are not commits of the repo and services without build paths compare image ids instead.
Env files git does not track are invisible to git: berth warns when one changed; --all applies it.

options:
  --tag SHA          release to deploy (default: HEAD of the product's repo)
  --only a,b         only these services (others keep running untouched)
  --include-stateful also replace stateful services (databases, emulators): stop-first
  --all              every service, changed or not: pulled and handed to compose even when its
                     image is the same (applies untracked env edits)
  --wait             wait for another deploy of the product to finish instead of failing
  --build-on-vm      EMERGENCY ONLY (registry down): build the release on this VM from the
                     buildComposeFiles view, BuildKit pinned, no registry; loud, and recorded in
                     the ledger as kind build-on-vm
  --dry-run          print the plan and the exact commands; change nothing
  --json             print the result as JSON on stdout
  --verbose, -v      show every command, its time, and the compose flavour
  --help, -h         this text

environment: BERTH_REGISTRY, BERTH_WORKSPACE, BERTH_STATE_DIR, BERTH_PRODUCTS_DIR, BERTH_COMPOSE=v1|v2
(a .env file beside berth is read too; the real environment wins).
  BERTH_DEPLOY_LOG           JSON lines, one per deploy, with per-step durations
                             (default \$BERTH_STATE_DIR/deploys.jsonl; off disables)
  BERTH_PROMETHEUS_TEXTFILE  node_exporter textfile (.prom): last deploy duration, result,
                             timestamp per product, written atomically
  BERTH_WEBHOOK_URL          Slack-compatible webhook on success and failure (skipped when
                             nothing changed); a webhook that is down is a warning only`;

export const DEPLOY_FLAGS = {
  tag: { type: 'string' },
  only: { type: 'string' },
  'include-stateful': { type: 'boolean' },
  wait: { type: 'boolean' },
  all: { type: 'boolean' },
  'build-on-vm': { type: 'boolean' },
} as const;

export async function defaultTag(runner: Runner, product: Product): Promise<string> {
  const head = await runner.probe(gitRevParse(product.repoDir));
  if (head.exitCode !== 0) {
    throw new UsageError(`${product.repoDir} is not a git repository, so there is no default release`, { fix: 'pass --tag <sha>' });
  }
  return head.stdout.trim();
}

export interface DeployRequest {
  product: string;
  options: Omit<DeployOptions, 'tag'> & { tag?: string };
}

export async function deployOne(
  request: DeployRequest,
  ui: Ui,
  settings: Settings = loadSettings(),
): Promise<DeployRun> {
  const product = await loadProduct(request.product, settings);
  const runner = createRunner({ dryRun: request.options.dryRun, ui });
  const tag = request.options.tag ?? (await defaultTag(runner, product));
  return deployProduct(createDeployContext(product, settings, runner, ui, { ...request.options, tag }));
}

export async function deployCli(argv: string[], ui: Ui): Promise<number> {
  const { values, positionals } = parse(argv, DEPLOY_FLAGS, DEPLOY_USAGE);
  if (helpAsked(values, DEPLOY_USAGE)) return 0;
  if (positionals.length !== 1) throw new UsageError('deploy takes exactly one product', { fix: 'run npx zx scripts/deploy.mts <product> (see --help)' });
  const settings = loadSettings();
  const meta = runMeta('deploy', values['dry-run']);
  // Bad input is refused before the first step (it throws): nothing was attempted, nothing to report.
  const { outcome: result, error } = await deployOne(
    {
      product: positionals[0] as string,
      options: {
        tag: values.tag,
        only: splitList(values.only),
        includeStateful: values['include-stateful'],
        wait: values.wait,
        dryRun: values['dry-run'],
        all: values.all,
        ...(values['build-on-vm'] ? { buildOnVm: true, kind: 'build-on-vm' as const } : {}),
      },
    },
    ui,
    settings,
  );
  await finishRun([result], settings, meta, ui);
  if (error !== undefined) throw error;
  if (values.json) ui.json(result);
  else ui.info(`${result.product} ${result.tag.slice(0, 12)}: ${result.result}, changed: ${result.changed.join(', ') || 'nothing'} (${result.durationsMs.total} ms)`);
  return 0;
}
