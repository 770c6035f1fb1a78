// The optional webhook (BERTH_WEBHOOK_URL): one Slack-compatible message per run that deployed or
// failed something. The deploy already happened by then, so a webhook that is down is reported as
// a warning and never changes the exit code. Messages pass through the secret redaction, and the
// URL itself (which carries the hook's token) is never printed: only its origin.
import { createRedactor, secretsFromEnv } from '../core/redact.mts';
import { readSetting } from '../core/settings.mts';
import { outcomeLabel, type DeployOutcome, type RunMeta } from './metrics.mts';
import { formatSeconds, type Ui } from '../core/ui.mts';
import { errorMessage } from '../core/errors.mts';

export interface SlackField {
  title: string;
  value: string;
  short?: boolean;
}

export interface SlackAttachment {
  color: string;
  fallback: string;
  title: string;
  fields: SlackField[];
  ts: number;
}

/** Understood by Slack incoming webhooks and the compatible ones (Mattermost, Rocket.Chat, Discord's /slack). */
export interface WebhookBody {
  text: string;
  attachments: SlackAttachment[];
}

const GOOD = '#2eb886';
const BAD = '#a30200';

export function makeRedactor(env: NodeJS.ProcessEnv, extra: string[] = []): (text: string) => string {
  return createRedactor([...secretsFromEnv(env), ...extra]).redact;
}

/** Worth a message: something was deployed or something failed. Runs that changed nothing stay quiet. */
export function worthNotifying(outcomes: DeployOutcome[]): boolean {
  return outcomes.some((o) => o.result === 'failed' || (o.result === 'ok' && o.changed.length > 0));
}

export function webhookBody(
  outcomes: DeployOutcome[],
  meta: RunMeta,
  redact: (text: string) => string = (t) => t,
  now = new Date(),
): WebhookBody {
  const by = `${meta.who}@${meta.host}`;
  const failed = outcomes.filter((o) => o.result === 'failed');
  const deployed = outcomes.filter((o) => o.result === 'ok' && o.changed.length > 0);
  const unchanged = outcomes.length - failed.length - deployed.length;
  const release = (o: DeployOutcome) => (o.tag ? o.tag.slice(0, 12) : '(no release)');
  const line = (o: DeployOutcome) =>
    `${o.product} ${meta.command === 'rollback' ? `rollback to ${release(o)}` : release(o)} ${o.result === 'failed' ? 'FAILED' : meta.command === 'rollback' ? 'done' : 'deployed'}${o.changed.length ? ` (${o.changed.join(', ')})` : ''}`;
  const text =
    outcomes.length === 1 && outcomes[0]
      ? `berth ${meta.command}: ${line(outcomes[0])} in ${formatSeconds(outcomes[0].durationsMs.total ?? 0)}, run by ${by}`
      : `berth ${meta.command}: ${[
          failed.length && `${failed.length} failed`,
          deployed.length && `${deployed.length} deployed`,
          unchanged && `${unchanged} unchanged`,
        ]
          .filter(Boolean)
          .join(', ')}, run by ${by}`;
  const attachments = [...failed, ...deployed].map((o) => {
    const fields: SlackField[] = [
      { title: 'Product', value: o.product, short: true },
      { title: 'Release', value: o.tag || '(none)', short: true },
      { title: 'Result', value: outcomeLabel(o), short: true },
      { title: 'Duration', value: formatSeconds(o.durationsMs.total ?? 0), short: true },
      { title: 'Services changed', value: o.changed.join(', ') || 'none', short: true },
      { title: 'Run by', value: by, short: true },
    ];
    if (o.result === 'failed')
      fields.push({ title: 'Failed step', value: `${o.failedStep ?? 'plan'}: ${o.error ?? 'unknown error'}`, short: false });
    // A failed after hook (afterDeploy, ...) leaves the release ok; the message still says so.
    if (o.warnings?.length) fields.push({ title: 'Warnings', value: o.warnings.join('\n'), short: false });
    return { color: o.result === 'failed' ? BAD : GOOD, fallback: line(o), title: line(o), fields, ts: Math.round(now.getTime() / 1000) };
  });
  // Everything a message carries is redacted, not just error texts: a secret can hide anywhere.
  return JSON.parse(redact(JSON.stringify({ text, attachments }))) as WebhookBody;
}

/** The error as one line, or undefined when the webhook took the message (2xx). */
export async function postWebhook(url: string, body: WebhookBody, timeoutMs = 5_000): Promise<string | undefined> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.text().catch(() => '');
    return response.ok ? undefined : `HTTP ${response.status}`;
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    if (error instanceof Error && error.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
    return cause ?? errorMessage(error);
  }
}

export function webhookOrigin(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.origin : undefined;
  } catch {
    return undefined;
  }
}

/** Sends the run's message when a webhook is configured; never throws. Returns whether it was delivered. */
export async function notifyOutcomes(outcomes: DeployOutcome[], env: NodeJS.ProcessEnv, meta: RunMeta, ui: Ui): Promise<boolean> {
  const url = readSetting(env, 'webhookUrl');
  if (!url || meta.dryRun || !worthNotifying(outcomes)) return false;
  const origin = webhookOrigin(url);
  if (!origin) {
    ui.warn('BERTH_WEBHOOK_URL is not an http(s) URL: no notification was sent');
    return false;
  }
  const body = webhookBody(outcomes, meta, makeRedactor(env, [url]));
  const failure = await postWebhook(url, body, readSetting(env, 'webhookTimeoutMs'));
  if (failure) {
    ui.warn(`notification to ${origin} failed (${failure}); the deploy result stands`);
    return false;
  }
  ui.debug(`notified ${origin}`);
  return true;
}
