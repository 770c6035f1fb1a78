import { defineProduct } from 'berth';

export default defineProduct({
  name: 'notes',
  repo: 'notes',
  composeFiles: ['docker-compose.yml', 'docker-compose.prod.yml'],
  buildComposeFiles: ['docker-compose.yml', 'docker-compose.dev.yml'],
  services: {
    // One host: /api and below reach the api, every other path the web app.
    api: {
      kind: 'http',
      health: { path: '/api/devops/version', port: 8080 },
      build: { context: 'api' },
      routes: [{ host: 'notes.internal', path: '/api' }],
    },
    web: {
      kind: 'http',
      health: { path: '/api/devops/version', port: 3000 },
      build: { context: 'web' },
      routes: [{ host: 'notes.internal' }],
    },
    azurite: { kind: 'stateful', image: 'azurite' },
  },
  smoke: [{ path: '/api/devops/version', host: 'notes.internal', status: 200, contains: '{tag}' }],
});
