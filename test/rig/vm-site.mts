// A product with its own Caddy as a VM runs it: on a fixed loopback port (an engine restart would
// move an ephemeral one) and every service with the restart policy a production compose file
// has, so an engine restart brings it back by itself. For the fault tests on the second engine.
// The fixture app's shell does not act on SIGTERM, so each engine stop would wait Docker's 10 s
// for it; a 2 s grace period keeps the rows short (a real app exits on SIGTERM).
import { doorCaddyfile } from './fixture-product.mts';

/** compose.yaml and the Caddyfile; REGISTRY, IMAGE_TAG and BERTH_UPSTREAMS come from berth. */
export function vmSiteFiles(prefix: string, port: number): Record<string, string> {
  return {
    'compose.yaml': `services:
  proxy:
    image: \${REGISTRY}/${prefix}-proxy:caddy
    restart: unless-stopped
    ports: ["127.0.0.1:${port}:80"]
    volumes:
      - ./Caddyfile:/etc/caddy/Caddyfile:ro
      - \${BERTH_UPSTREAMS}:/etc/caddy/upstreams:ro
  web:
    image: \${REGISTRY}/${prefix}-web:\${IMAGE_TAG:-latest}
    restart: unless-stopped
    stop_grace_period: 2s
`,
    Caddyfile: doorCaddyfile(),
  };
}

/** The first good answer's body, polling every 200 ms; '' when none came within timeoutMs. */
export async function firstAnswer(url: string, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const body = await fetch(url, { signal: AbortSignal.timeout(2_000) })
      .then((r) => (r.ok ? r.text() : ''))
      .catch(() => '');
    if (body.trim()) return body.trim();
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return '';
}
