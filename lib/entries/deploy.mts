// `deploy <product>`: flags -> lib/ops/deploy-one.mts. Shared by scripts/deploy.mts and the
// per-product entry scripts, which only fix the product name.
import { helpAsked, parse, splitList } from '../core/cli.mts';
import { deploySettings } from '../config/load.mts';
import { UsageError } from '../core/errors.mts';
import type { Ui } from '../core/ui.mts';
import { deployOne } from '../ops/deploy-one.mts';
import { DEPLOY_USAGE } from './usage.mts';
import { rollbackCli } from './rollback.mts';
import { parseDuration } from '../releases/branch-tip.mts';

/** The flags a rollback shares with a deploy, as rollbackCli reads them. */
function passThrough(values: { 'dry-run'?: boolean; wait?: boolean; json?: boolean; verbose?: boolean }): string[] {
  return [
    ...(values['dry-run'] ? ['--dry-run'] : []),
    ...(values.wait ? ['--wait'] : []),
    ...(values.json ? ['--json'] : []),
    ...(values.verbose ? ['--verbose'] : []),
  ];
}

export const DEPLOY_FLAGS = {
  tag: { type: 'string' },
  only: { type: 'string' },
  'include-stateful': { type: 'boolean' },
  wait: { type: 'boolean' },
  all: { type: 'boolean' },
  'build-on-vm': { type: 'boolean' },
  rollback: { type: 'boolean' },
  'allow-dirty': { type: 'boolean' },
  'wait-for-images': { type: 'string' },
} as const;

/** How long a bare --wait-for-images waits for CI to push the tip's images. */
export const DEFAULT_IMAGE_WAIT = '15m';

/** `--wait-for-images` takes an optional value, which parseArgs cannot say: a bare one gets the default. */
export function withImageWaitDefault(argv: string[]): string[] {
  return argv.map((arg) => (arg === '--wait-for-images' ? `--wait-for-images=${DEFAULT_IMAGE_WAIT}` : arg));
}

/** --wait-for-images=DURATION in ms; refused (before anything) when it names no duration or comes with --tag. */
export function imageWaitMs(value: string | undefined, tag: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (tag !== undefined)
    throw new UsageError('--wait-for-images waits for the tip of the deploy branch, not for --tag', {
      fix: "drop --tag to deploy the tip of the product's branch, or drop --wait-for-images",
    });
  const ms = parseDuration(value);
  if (ms === undefined || ms <= 0 || ms > 24 * 3_600_000)
    throw new UsageError(`--wait-for-images=${value} is not a duration`, { fix: 'give one like 90s, 10m or 1h (bare: 15m)' });
  return ms;
}

/** Flags that choose what to deploy: a rollback's release and services come from the ledger. */
const NOT_WITH_ROLLBACK = ['tag', 'only', 'include-stateful', 'all', 'build-on-vm', 'allow-dirty', 'wait-for-images'] as const;

export async function deployCli(argv: string[], ui: Ui): Promise<number> {
  const { values, positionals } = parse(withImageWaitDefault(argv), DEPLOY_FLAGS, DEPLOY_USAGE);
  if (helpAsked(values, DEPLOY_USAGE)) return 0;
  // `--rollback [sha]`: the roll back the old wrappers took, equal to `rollback <product> [sha]`.
  if (values.rollback) {
    const clash = NOT_WITH_ROLLBACK.find((flag) => values[flag] !== undefined);
    if (clash)
      throw new UsageError(`--rollback takes no --${clash}`, { fix: 'run --rollback [sha] with --dry-run, --wait or --json only' });
    const [product, sha, ...extra] = positionals;
    if (!product || extra.length > 0)
      throw new UsageError(extra.length ? `unexpected argument ${extra[0]}` : 'deploy takes exactly one product', {
        fix: 'run deploy <product> --rollback [sha]; with no sha it rolls back to the release before the current one',
      });
    return rollbackCli([product, ...(sha === undefined ? ['--previous'] : [sha]), ...passThrough(values)], ui);
  }
  if (positionals.length !== 1)
    throw new UsageError('deploy takes exactly one product', { fix: 'run npx zx scripts/deploy.mts <product> (see --help)' });
  const waitForImagesMs = imageWaitMs(values['wait-for-images'], values.tag);
  const result = await deployOne(
    {
      product: positionals[0] as string,
      options: {
        tag: values.tag,
        ...(waitForImagesMs ? { waitForImagesMs } : {}),
        only: splitList(values.only),
        includeStateful: values['include-stateful'],
        wait: values.wait,
        dryRun: values['dry-run'],
        all: values.all,
        allowDirty: values['allow-dirty'],
        ...(values['build-on-vm'] ? { buildOnVm: true, kind: 'build-on-vm' as const } : {}),
      },
    },
    deploySettings(),
    ui,
  );
  if (values.json) ui.json(result);
  else
    ui.result(
      `${result.product} ${result.tag.slice(0, 12)}: ${result.result}, changed: ${result.changed.join(', ') || 'nothing'} (${result.durationsMs.total} ms)`,
    );
  return 0;
}
