import { defineProduct } from 'berth';

// The DevOps dashboard: its deploy buttons call shims/deploy.sh <product>.
export default defineProduct({
  name: 'dashboard',
  repo: 'dashboard',
  composeFiles: ['docker-compose.yml', 'docker-compose.prod.yml'],
  buildComposeFiles: ['docker-compose.yml', 'docker-compose.dev.yml'],
  services: {
    web: {
      kind: 'http',
      health: { path: '/api/devops/version', port: 3000 },
      build: { context: '.' },
      routes: [{ host: 'dashboard.internal' }],
    },
  },
  smoke: [{ path: '/api/devops/version', host: 'dashboard.internal', status: 200, contains: '{tag}' }],
});
