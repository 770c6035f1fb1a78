import { defineEdge } from 'berth';

// The VM's one front door. Not a product (no shim, not in deploy-all): it says where the shared
// Caddy runs. common_plat already runs a Caddy, so its `caddy` service is the edge; common_plat
// is deployed first, and every other routed product is refused while that Caddy is down.
export default defineEdge({
  project: 'common_plat',
  service: 'caddy',
  // The docker network's real name, not a compose key: common_plat's caddy and every routed
  // service join it as the external network `edge: { external: true, name: edge }`.
  network: 'edge',
  // Where common_plat's compose file mounts the host's sites directory (sitesDir, left at its
  // default $BERTH_STATE_DIR/edge); its Caddyfile has `import /etc/caddy/sites/*.caddy`.
  mountedAt: '/etc/caddy/sites',
  // Plain HTTP sites on 80. The products' hosts are the .internal names their smoke checks use,
  // and no public CA issues a certificate for those: under https (the default) Caddy 2.6.2 would
  // ask Let's Encrypt and ZeroSSL for one and fail. Switch to https when the routes name public
  // hosts; smoke checks then go over TLS to 443, with the host as SNI. See README, "Routes are data".
  // config keeps its default: the Caddyfile where the Caddy image reads it (/etc/caddy/Caddyfile).
  scheme: 'http',
});
