import { defineProduct } from 'berth';

// Shared platform pieces the other products lean on: auth, the emulators, and the VM's shared
// edge Caddy (products/edge.mts), which every routed product's traffic goes through.
export default defineProduct({
  name: 'common_plat',
  repo: 'common_plat',
  composeFiles: ['docker-compose.yml', 'docker-compose.prod.yml'],
  buildComposeFiles: ['docker-compose.yml', 'docker-compose.dev.yml'],
  services: {
    caddy: { kind: 'proxy', image: 'caddy' },
    auth: {
      kind: 'http',
      health: { path: '/api/devops/version', port: 8080 },
      build: { context: 'auth' },
      routes: [{ host: 'auth.internal' }],
    },
    cosmos: { kind: 'stateful', image: 'cosmosdb-emulator' },
    azurite: { kind: 'stateful', image: 'azurite' },
  },
  smoke: [{ path: '/api/devops/version', host: 'auth.internal', status: 200, contains: '{tag}' }],
  minFreeDiskGb: 5,
});
