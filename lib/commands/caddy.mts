// Pure argv builders for a Caddy front: a product's own proxy container, or the VM's shared edge.

export const CADDY_CONFIG = '/etc/caddy/Caddyfile';

/** Graceful: Caddy finishes in-flight requests on the old config while new ones use the new. */
export function caddyReload(container: string, config = CADDY_CONFIG): string[] {
  return ['docker', 'exec', container, 'caddy', 'reload', '--config', config, '--adapter', 'caddyfile'];
}

/** Loads and provisions a config without running it: what a reload would refuse, refused first. */
export function caddyValidate(container: string, config: string): string[] {
  return ['docker', 'exec', container, 'caddy', 'validate', '--config', config, '--adapter', 'caddyfile'];
}

/** A request made from inside a container (the proxy's network view); -S prints the status line. */
export function wgetInside(container: string, url: string, host?: string): string[] {
  return ['docker', 'exec', container, 'wget', '-S', '-q', '-O', '-', ...(host ? ['--header', `Host: ${host}`] : []), url];
}

export function dockerPort(container: string, port: number): string[] {
  return ['docker', 'port', container, `${port}/tcp`];
}
