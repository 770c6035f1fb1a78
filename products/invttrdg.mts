import { defineProduct } from 'berth';

export default defineProduct({
  name: 'invttrdg',
  repo: 'invttrdg',
  composeFiles: ['docker-compose.yml', 'docker-compose.prod.yml'],
  buildComposeFiles: ['docker-compose.yml', 'docker-compose.dev.yml'],
  services: {
    // One host: /api and below reach the api, every other path the web app.
    api: {
      kind: 'http',
      health: { path: '/api/devops/version', port: 8080 },
      build: { context: 'api', paths: ['shared/'], secrets: { npm_token: 'GITEA_NPM_TOKEN' } },
      routes: [{ host: 'invttrdg.internal', path: '/api' }],
    },
    web: {
      kind: 'http',
      health: { path: '/api/devops/version', port: 3000 },
      build: { context: 'web', paths: ['shared/'], secrets: { npm_token: 'GITEA_NPM_TOKEN' } },
      routes: [{ host: 'invttrdg.internal' }],
    },
    worker: { kind: 'worker', build: { context: 'worker', paths: ['shared/'] } },
    cosmos: { kind: 'stateful', image: 'cosmosdb-emulator' },
    azurite: { kind: 'stateful', image: 'azurite' },
  },
  smoke: [{ path: '/api/devops/version', host: 'invttrdg.internal', status: 200, contains: '{tag}' }],
  migrate: { service: 'api', command: ['node', 'dist/migrate.js'] },
  // The old deploy script refused to go on when an internal npm package the build installs was
  // not published yet. The build now runs on the builder, so the check gates the build there; the
  // check itself lives in the product's repo (README: Checks and hooks).
  beforeBuild: [
    {
      name: 'packages-published',
      command: ['./scripts/check-packages-published.sh'],
      secrets: ['GITEA_NPM_TOKEN'],
      timeoutSeconds: 120,
    },
  ],
});
