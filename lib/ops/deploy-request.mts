// A deploy as its command line asks for it: the request deployOne takes, refused before anything
// runs when its flags disagree, and `deploy --rollback`'s arguments as the rollback command reads
// them (the roll back the old wrappers took, equal to `rollback <product> [sha]`).
import { splitList } from '../core/cli.mts';
import { UsageError } from '../core/errors.mts';
import type { DeployResult } from '../deploy/deploy-product.mts';
import { parseDuration } from '../releases/branch-tip.mts';
import type { DeployRequest } from './deploy-one.mts';

/** The deploy command's flags as parsed. */
export interface DeployFlagValues {
  tag?: string;
  only?: string;
  'include-stateful'?: boolean;
  wait?: boolean;
  all?: boolean;
  'build-on-vm'?: boolean;
  rollback?: boolean;
  'allow-dirty'?: boolean;
  'wait-for-images'?: string;
  'dry-run'?: boolean;
  json?: boolean;
  verbose?: boolean;
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

/** The flags a rollback shares with a deploy, as rollbackCli reads them. */
function passThrough(values: DeployFlagValues): string[] {
  return [
    ...(values['dry-run'] ? ['--dry-run'] : []),
    ...(values.wait ? ['--wait'] : []),
    ...(values.json ? ['--json'] : []),
    ...(values.verbose ? ['--verbose'] : []),
  ];
}

/** Flags that choose what to deploy: a rollback's release and services come from the ledger. */
const NOT_WITH_ROLLBACK = ['tag', 'only', 'include-stateful', 'all', 'build-on-vm', 'allow-dirty', 'wait-for-images'] as const;

/** `deploy <product> --rollback [sha]` as the rollback command's arguments; with no sha, --previous. */
export function rollbackArgv(values: DeployFlagValues, positionals: string[]): string[] {
  const clash = NOT_WITH_ROLLBACK.find((flag) => values[flag] !== undefined);
  if (clash) throw new UsageError(`--rollback takes no --${clash}`, { fix: 'run --rollback [sha] with --dry-run, --wait or --json only' });
  const [product, sha, ...extra] = positionals;
  if (!product || extra.length > 0)
    throw new UsageError(extra.length ? `unexpected argument ${extra[0]}` : 'deploy takes exactly one product', {
      fix: 'run deploy <product> --rollback [sha]; with no sha it rolls back to the release before the current one',
    });
  return [product, ...(sha === undefined ? ['--previous'] : [sha]), ...passThrough(values)];
}

/** The request for one product, refused when the command line names none or several. */
export function deployRequest(values: DeployFlagValues, positionals: string[]): DeployRequest {
  if (positionals.length !== 1)
    throw new UsageError('deploy takes exactly one product', { fix: 'run npx zx scripts/deploy.mts <product> (see --help)' });
  const waitForImagesMs = imageWaitMs(values['wait-for-images'], values.tag);
  return {
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
  };
}

/** The deploy's one-line result for a person. */
export function deployLine(result: DeployResult): string {
  return `${result.product} ${result.tag.slice(0, 12)}: ${result.result}, changed: ${result.changed.join(', ') || 'nothing'} (${result.durationsMs.total} ms)`;
}
