// `deploy <product>`: flags -> lib/ops/deploy-one.mts. Shared by scripts/deploy.mts and the
// per-product entry scripts, which only fix the product name.
import { helpAsked, parse } from '../core/cli.mts';
import { deploySettings } from '../config/load.mts';
import type { Ui } from '../core/ui.mts';
import { deployOne } from '../ops/deploy-one.mts';
import { deployLine, deployRequest, rollbackArgv } from '../ops/deploy-request.mts';
import { DEPLOY_USAGE } from './usage.mts';
import { rollbackCli } from './rollback.mts';

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

export async function deployCli(argv: string[], ui: Ui): Promise<number> {
  const { values, positionals } = parse(withImageWaitDefault(argv), DEPLOY_FLAGS, DEPLOY_USAGE);
  if (helpAsked(values, DEPLOY_USAGE)) return 0;
  if (values.rollback) return rollbackCli(rollbackArgv(values, positionals), ui);
  const result = await deployOne(deployRequest(values, positionals), deploySettings(), ui);
  if (values.json) ui.json(result);
  else ui.result(deployLine(result));
  return 0;
}
