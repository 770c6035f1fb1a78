// `deploy <product>`: flags -> product -> steps. Shared by scripts/deploy.mts and the per-product
// entry scripts, which only fix the product name.
import { gitRevParse } from '../commands/git.mts';
import { parse, splitList } from '../cli.mts';
import { loadProduct, loadSettings, type Product, type Settings } from '../config/load.mts';
import type { DeployOptions } from '../context.mts';
import { createDeployContext, deployProduct, type DeployResult } from '../deploy.mts';
import { UsageError } from '../errors.mts';
import { createRunner, type Runner } from '../runner.mts';
import type { Ui } from '../ui.mts';

export const DEPLOY_USAGE = `usage: npx zx scripts/deploy.mts <product> [options]

Pulls the release's images from the registry and replaces only the services whose image changed.
The VM never builds.

options:
  --tag SHA          release to deploy (default: HEAD of the product's repo)
  --only a,b         only these services (others keep running untouched)
  --include-stateful also replace stateful services (databases, emulators): stop-first
  --wait             wait for another deploy of the product to finish instead of failing
  --dry-run          print the plan and the exact commands; change nothing
  --json             print the result as JSON on stdout
  --verbose, -v      show every command, its time, and the compose flavour
  --help, -h         this text

environment: BERTH_REGISTRY, BERTH_WORKSPACE, BERTH_STATE_DIR, BERTH_PRODUCTS_DIR, BERTH_COMPOSE=v1|v2
(a .env file beside berth is read too; the real environment wins).`;

export const DEPLOY_FLAGS = {
  tag: { type: 'string' },
  only: { type: 'string' },
  'include-stateful': { type: 'boolean' },
  wait: { type: 'boolean' },
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

export async function deployOne(request: DeployRequest, ui: Ui, settings: Settings = loadSettings()): Promise<DeployResult> {
  const product = await loadProduct(request.product, settings);
  const runner = createRunner({ dryRun: request.options.dryRun, ui });
  const tag = request.options.tag ?? (await defaultTag(runner, product));
  const ctx = createDeployContext(product, settings, runner, ui, { ...request.options, tag });
  return deployProduct(ctx);
}

export async function deployCli(argv: string[], ui: Ui): Promise<number> {
  const { values, positionals } = parse(argv, DEPLOY_FLAGS, DEPLOY_USAGE);
  if (values.help) {
    process.stderr.write(`${DEPLOY_USAGE}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('deploy takes exactly one product', { fix: 'run npx zx scripts/deploy.mts <product> (see --help)' });
  const result = await deployOne(
    {
      product: positionals[0] as string,
      options: {
        tag: values.tag,
        only: splitList(values.only),
        includeStateful: values['include-stateful'],
        wait: values.wait,
        dryRun: values['dry-run'],
      },
    },
    ui,
  );
  if (values.json) ui.json(result);
  else ui.info(`${result.product} ${result.tag.slice(0, 12)}: ${result.result}, changed: ${result.changed.join(', ') || 'nothing'} (${result.durationsMs.total} ms)`);
  return 0;
}
