import { defineProduct } from '../lib/config/define.mts';

// Shared platform pieces the other products lean on: auth, the emulators, the front proxy.
export default defineProduct({
  name: 'common_plat',
  repo: 'common_plat',
  composeFiles: ['docker-compose.yml', 'docker-compose.prod.yml'],
  buildComposeFiles: ['docker-compose.yml', 'docker-compose.dev.yml'],
  services: {
    caddy: { kind: 'proxy', image: 'caddy' },
    auth: { kind: 'http', health: { path: '/api/devops/version', port: 8080 }, build: { context: 'auth' } },
    cosmos: { kind: 'stateful', image: 'cosmosdb-emulator' },
    azurite: { kind: 'stateful', image: 'azurite' },
  },
  smoke: [{ path: '/api/devops/version', host: 'auth.internal', status: 200, contains: '{tag}' }],
  minFreeDiskGb: 5,
});
