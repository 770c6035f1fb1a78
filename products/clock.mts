import { defineProduct } from 'berth';

export default defineProduct({
  name: 'clock',
  repo: 'clock',
  composeFiles: ['docker-compose.yml', 'docker-compose.prod.yml'],
  buildComposeFiles: ['docker-compose.yml', 'docker-compose.dev.yml'],
  services: {
    web: {
      kind: 'http',
      health: { path: '/api/devops/version', port: 3000 },
      build: { context: '.' },
      routes: [{ host: 'clock.internal' }],
    },
  },
  smoke: [{ path: '/api/devops/version', host: 'clock.internal', status: 200, contains: '{tag}' }],
});
