// The product's checks (its `checks` hooks): after the checkout and preflight, before anything
// changes. A check that fails refuses the deploy the way preflight refuses a full disk or an
// unreachable registry (EngineError, exit 3): the world the release needs is not ready, the
// product file is not wrong (ConfigError) and no new release was unhealthy (HealthError).
import { EngineError } from '../../core/errors.mts';
import { blockingHookStep } from '../hooks.mts';

export const CHECKS_STEP = 'checks';

export const checks = blockingHookStep('checks', {
  id: CHECKS_STEP,
  title: 'run the product checks',
  error: (line, hook, details) =>
    new EngineError(`${line}; nothing was changed`, {
      fix: `make the check pass, or see what it checks: ${hook.command.join(' ')}`,
      details,
    }),
});
