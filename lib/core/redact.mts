// Secrets never reach output, logs or the ledger: the runner and the webhook redact with this.
const SECRET_NAME = /(TOKEN|PASSWORD|PASSWD|SECRET|API_KEY|PRIVATE_KEY)/i;

/** Values of environment variables whose names say they are secrets. */
export function secretsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return Object.entries(env)
    .filter(([name, value]) => SECRET_NAME.test(name) && value && value.length >= 4)
    .map(([, value]) => value as string);
}

export interface Redactor {
  /** Every known secret in `text` replaced by [REDACTED]. */
  redact(text: string): string;
  /** Learns one more secret; values under 4 characters would redact ordinary text, so they are ignored. */
  add(value: string | undefined): void;
}

export function createRedactor(initial: Iterable<string> = []): Redactor {
  const secrets = new Set<string>();
  const add = (value: string | undefined) => {
    if (value && value.length >= 4) secrets.add(value);
  };
  for (const value of initial) add(value);
  return {
    add,
    redact: (text) => {
      let out = text;
      for (const secret of secrets) out = out.split(secret).join('[REDACTED]');
      return out;
    },
  };
}
