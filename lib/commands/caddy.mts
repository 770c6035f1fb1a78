// Pure argv builders for the Caddy front, which runs as a container of the product.

export const CADDY_CONFIG = '/etc/caddy/Caddyfile';

/** Graceful: Caddy finishes in-flight requests on the old config while new ones use the new. */
export function caddyReload(container: string, config = CADDY_CONFIG): string[] {
  return ['docker', 'exec', container, 'caddy', 'reload', '--config', config, '--adapter', 'caddyfile'];
}

/** A request made from inside a container (the proxy's network view); -S prints the status line. */
export function wgetInside(container: string, url: string, host?: string): string[] {
  return ['docker', 'exec', container, 'wget', '-S', '-q', '-O', '-', ...(host ? ['--header', `Host: ${host}`] : []), url];
}

export function dockerPort(container: string, port: number): string[] {
  return ['docker', 'port', container, `${port}/tcp`];
}
