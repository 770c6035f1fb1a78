// argv builders: exact argv per option, for both Compose flavours. No I/O.
import { describe, expect, it } from 'vitest';
import { gitCheckoutDetached, gitFetch, gitTrackedEdits } from '../../lib/commands/git.mts';
import { caddyReload, wgetInside } from '../../lib/commands/caddy.mts';
import {
  COMPOSE_V1,
  COMPOSE_V2,
  composeConfigHash,
  composePull,
  composeRun,
  composeUp,
  configHashIsCheap,
  parseConfigHashes,
  type ComposeProject,
} from '../../lib/commands/compose.mts';
import { dockerBuild, dockerLogin, dockerPsIds, dockerStop } from '../../lib/commands/docker.mts';
import { gitDiffNames, gitRevParse } from '../../lib/commands/git.mts';

const project = (flavour: typeof COMPOSE_V1 | typeof COMPOSE_V2): ComposeProject => ({
  flavour: { ...flavour, version: 'x' },
  name: 'shop',
  directory: '/srv/shop',
  files: ['/srv/shop/compose.yaml', '/srv/shop/compose.prod.yaml'],
});
const base = [
  '--project-name',
  'shop',
  '--project-directory',
  '/srv/shop',
  '-f',
  '/srv/shop/compose.yaml',
  '-f',
  '/srv/shop/compose.prod.yaml',
];

describe.each([
  ['v2', COMPOSE_V2, ['docker', 'compose']],
  ['v1', COMPOSE_V1, ['docker-compose']],
] as const)('compose %s', (_name, flavour, bin) => {
  it('up: detached, no deps, never builds, never force-recreates by default', () => {
    expect(composeUp(project(flavour), ['web'])).toEqual([...bin, ...base, 'up', '--detach', '--no-deps', '--no-build', 'web']);
  });
  it('up: start-first adds a container beside the old one', () => {
    expect(composeUp(project(flavour), ['web', 'worker'], { noRecreate: true, scale: { web: 2, worker: 2 } })).toEqual([
      ...bin,
      ...base,
      'up',
      '--detach',
      '--no-deps',
      '--no-build',
      '--no-recreate',
      '--scale',
      'web=2',
      '--scale',
      'worker=2',
      'web',
      'worker',
    ]);
  });
  it('up: the emergency build and an explicit recreate are opt-in', () => {
    expect(composeUp(project(flavour), ['web'], { build: true, forceRecreate: true, noDeps: false })).toEqual([
      ...bin,
      ...base,
      'up',
      '--detach',
      '--build',
      '--force-recreate',
      'web',
    ]);
  });
  it('pull only the named services, quietly where that keeps the error (v1)', () => {
    const quiet = flavour.name === 'v1' ? ['--quiet'] : [];
    expect(composePull(project(flavour), ['proxy'])).toEqual([...bin, ...base, 'pull', ...quiet, 'proxy']);
  });
  it('run a one-off migration from the new image, removed afterwards', () => {
    expect(composeRun(project(flavour), 'api', ['node', 'migrate.js'])).toEqual([
      ...bin,
      ...base,
      'run',
      '--rm',
      '--no-deps',
      '-T',
      'api',
      'node',
      'migrate.js',
    ]);
  });
  it('config hash of several services', () => {
    expect(composeConfigHash(project(flavour), ['web', 'api'])).toEqual([...bin, ...base, 'config', '--hash=web,api']);
  });

  it('reads `config --hash` output; only v2 is asked for it before a direct start', () => {
    const hash = 'f'.repeat(64);
    expect(parseConfigHashes(`web ${hash}\napi ${hash}\n\nnoise\n`)).toEqual({ web: hash, api: hash });
    expect(configHashIsCheap(COMPOSE_V2)).toBe(true);
    expect(configHashIsCheap(COMPOSE_V1)).toBe(false);
  });
});

describe('docker and git argv', () => {
  it('finds containers by compose labels, never by name', () => {
    expect(dockerPsIds({ project: 'shop', service: 'web', all: true })).toEqual([
      'docker',
      'ps',
      '--quiet',
      '--no-trunc',
      '--all',
      '--filter',
      'label=com.docker.compose.project=shop',
      '--filter',
      'label=com.docker.compose.service=web',
      '--filter',
      'label=com.docker.compose.oneoff=False',
    ]);
  });
  it('login reads the token from stdin, never from argv', () => {
    const argv = dockerLogin('reg.example:5000', 'ci');
    expect(argv).toEqual(['docker', 'login', '--username', 'ci', '--password-stdin', 'reg.example:5000']);
  });
  it('build passes secrets by environment name, build args by value', () => {
    expect(
      dockerBuild({
        context: 'api',
        dockerfile: 'api/Dockerfile',
        tags: ['r/a:1', 'r/a:latest'],
        buildArgs: { BERTH_SHA: '1' },
        secretEnv: { npm_token: 'GITEA_NPM_TOKEN' },
      }),
    ).toEqual([
      'docker',
      'build',
      '--file',
      'api/Dockerfile',
      '--tag',
      'r/a:1',
      '--tag',
      'r/a:latest',
      '--build-arg',
      'BERTH_SHA=1',
      '--secret',
      'id=npm_token,env=GITEA_NPM_TOKEN',
      'api',
    ]);
  });
  it('stop with a grace period', () => {
    expect(dockerStop(['a', 'b'], 5)).toEqual(['docker', 'stop', '--time', '5', 'a', 'b']);
  });
  it('caddy reload and in-proxy probes', () => {
    expect(caddyReload('px')).toEqual([
      'docker',
      'exec',
      'px',
      'caddy',
      'reload',
      '--config',
      '/etc/caddy/Caddyfile',
      '--adapter',
      'caddyfile',
    ]);
    expect(wgetInside('px', 'http://127.0.0.1:80/v', 'a.internal')).toEqual([
      'docker',
      'exec',
      'px',
      'wget',
      '-S',
      '-q',
      '-O',
      '-',
      '--header',
      'Host: a.internal',
      'http://127.0.0.1:80/v',
    ]);
  });
  it('git always runs with -C', () => {
    expect(gitRevParse('/r', 'abc')).toEqual(['git', '-C', '/r', 'rev-parse', '--verify', 'abc^{commit}']);
    expect(gitDiffNames('/r', 'a', 'b')).toEqual(['git', '-C', '/r', 'diff', '--name-only', 'a..b']);
  });
});

describe('git argv for putting a release in place', () => {
  it('names tracked edits under the product directory only, NUL-separated; fetches and moves the checkout quietly', () => {
    expect(gitTrackedEdits('/srv/clock')).toEqual([
      'git',
      '-C',
      '/srv/clock',
      'diff',
      'HEAD',
      '--name-only',
      '--relative',
      '-z',
      '--',
      '.',
    ]);
    expect(gitFetch('/srv/clock', 'origin')).toEqual(['git', '-C', '/srv/clock', 'fetch', '--quiet', 'origin']);
    expect(gitCheckoutDetached('/srv/clock', 'c0ffee')).toEqual(['git', '-C', '/srv/clock', 'checkout', '--quiet', '--detach', 'c0ffee']);
  });
});
