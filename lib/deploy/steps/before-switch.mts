// The product's beforeSwitch hooks: the new containers are healthy and traffic has not moved.
// A failure is a failed health check as far as the deploy goes: HealthError, and undo takes the
// new containers away while the old ones keep serving.
import { HealthError } from '../../core/errors.mts';
import { blockingHookStep } from '../hooks.mts';

export const beforeSwitch = blockingHookStep('beforeSwitch', {
  id: 'beforeSwitch',
  title: 'run the beforeSwitch hooks',
  error: (line, _hook, details) =>
    new HealthError(line, { fix: 'the previous release keeps serving; fix what the hook found and deploy again', details }),
});
