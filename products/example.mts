import { defineProduct } from 'berth';

// Works on any machine with a Docker engine: `npm run demo` builds and deploys it. /version answers
// the commit web was built from, which a smoke `{tag}` accepts when the image was reused.
export default defineProduct({
  name: 'example',
  repo: new URL('./example', import.meta.url).pathname,
  composeFiles: ['compose.yaml'],
  buildComposeFiles: ['compose.yaml', 'compose.build.yaml'],
  services: {
    proxy: { kind: 'proxy', image: 'berth-caddy' },
    web: {
      kind: 'http',
      health: { path: '/healthz', port: 8080, timeoutSeconds: 20 },
      drainSeconds: 2,
      build: { context: 'web' },
    },
    worker: { kind: 'worker', build: { context: 'worker' } },
  },
  smoke: [{ path: '/version', status: 200, contains: '{tag}' }],
  keepReleases: 5,
  deployAll: false,
  monitorSeconds: 2,
});
