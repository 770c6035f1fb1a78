import { describe, expect, it } from 'vitest';
import { validateProduct } from '../../lib/config/validate.mts';

// One case per rule of lib/config/product-schema.mts that validate.test.mts does not already
// pin, each on an otherwise valid product, so a dropped rule shows up as a missing line.
const valid = () => ({
  name: 'shop',
  repo: 'shop',
  composeFiles: ['compose.yaml'],
  buildComposeFiles: ['compose.dev.yaml'],
  projectName: 'shop',
  registry: 'registry.internal:5000',
  services: {
    web: {
      kind: 'http',
      image: 'shop-web',
      health: { path: '/healthz', port: 8080, timeoutSeconds: 30 },
      build: { context: '.', dockerfile: 'Dockerfile', target: 'web', paths: ['lib'], args: { A: 'b' }, secrets: { npm: 'NPM_TOKEN' } },
      drainSeconds: 2.5,
      stopFirst: false,
    },
    db: { kind: 'stateful' },
    caddy: { kind: 'proxy' },
  },
  smoke: [{ path: '/', host: 'shop.test', status: 200, contains: '{tag}' }],
  migrate: { service: 'web', command: ['npm', 'run', 'migrate'] },
  keepReleases: 5,
  minFreeDiskGb: 2,
  deployAll: true,
  monitorSeconds: 3,
});
type Product = ReturnType<typeof valid> & Record<string, unknown>;
type Web = Product['services']['web'] & Record<string, unknown>;

const cases: [string, (p: Product, web: Web) => void, string[]][] = [
  [
    'unknown top-level field',
    (p) => (p.bogus = 1),
    [
      'bogus: unknown field (expected one of name, repo, branch, composeFiles, buildComposeFiles, projectName, registry, engine, services, smoke, migrate, keepReleases, minFreeDiskGb, deployAll, monitorSeconds, beforeBuild, checks, beforeSwitch, afterDeploy, afterRollback, afterFailure)',
    ],
  ],
  ['missing name', (p) => Reflect.deleteProperty(p, 'name'), ['name: required']],
  ['missing repo', (p) => Reflect.deleteProperty(p, 'repo'), ['repo: required']],
  ['empty name', (p) => (p.name = ''), ['name: expected a non-empty string']],
  ['composeFiles not a list', (p) => (p.composeFiles = 'compose.yaml' as never), ['composeFiles: expected a non-empty list of strings']],
  ['an empty compose file', (p) => (p.composeFiles = ['a.yaml', '']), ['composeFiles[1]: expected a non-empty string']],
  ['buildComposeFiles not a list', (p) => (p.buildComposeFiles = 'x' as never), ['buildComposeFiles: expected a list of strings']],
  ['an empty buildComposeFiles is fine', (p) => (p.buildComposeFiles = []), []],
  ['a build compose file not a string', (p) => (p.buildComposeFiles = [3] as never), ['buildComposeFiles[0]: expected a non-empty string']],
  ['empty projectName', (p) => (p.projectName = ''), ['projectName: expected a non-empty string']],
  ['a deploy branch', (p) => (p.branch = 'release/2026-11'), []],
  [
    'a branch git would read as an option',
    (p) => (p.branch = '--upload-pack=x'),
    ['branch: a branch name: letters, digits, and . _ / - (no .., no leading -)'],
  ],
  ['a branch with ..', (p) => (p.branch = 'a..b'), ['branch: a branch name: letters, digits, and . _ / - (no .., no leading -)']],
  ['registry not a string', (p) => (p.registry = 5 as never), ['registry: expected a non-empty string']],
  ['keepReleases not an integer', (p) => (p.keepReleases = 2.5), ['keepReleases: expected an integer from 1 to 100']],
  ['keepReleases out of range', (p) => (p.keepReleases = 0), ['keepReleases: expected an integer from 1 to 100']],
  ['minFreeDiskGb out of range', (p) => (p.minFreeDiskGb = 10_001), ['minFreeDiskGb: expected a number from 0 to 10000']],
  ['monitorSeconds not finite', (p) => (p.monitorSeconds = Infinity), ['monitorSeconds: expected a number from 0 to 600']],
  ['engine not one berth knows', (p) => ((p as { engine?: unknown }).engine = 'kubernetes'), ["engine: expected 'compose' or 'swarm'"]],
  ['deployAll not a boolean', (p) => (p.deployAll = 'no' as never), ['deployAll: expected true or false']],
  [
    'missing services',
    (p) => ['services', 'migrate'].forEach((key) => Reflect.deleteProperty(p, key)),
    ['services: required: at least one service'],
  ],
  ['no services', (p) => Object.assign(p, { services: {}, migrate: undefined }), ['services: required: at least one service']],
  ['two proxies', (p) => (p.services.db.kind = 'proxy'), ['services: at most one proxy service (found db, caddy)']],
  [
    'a service that is not an object',
    (p) => ((p.services as Record<string, unknown>).db = 'postgres'),
    ['services.db: expected an object'],
  ],
  [
    'a service without kind',
    (p) => Reflect.deleteProperty(p.services.db, 'kind'),
    ['services.db.kind: required (one of http, worker, stateful, proxy)'],
  ],
  ['empty image', (_, web) => (web.image = ''), ['services.web.image: expected a non-empty string']],
  ['drainSeconds out of range', (_, web) => (web.drainSeconds = 301), ['services.web.drainSeconds: expected a number from 0 to 300']],
  ['stopFirst not a boolean', (_, web) => (web.stopFirst = 1 as never), ['services.web.stopFirst: expected true or false']],
  ['health not an object', (_, web) => (web.health = [] as never), ['services.web.health: expected an object']],
  [
    'unknown health field',
    (_, web) => ((web.health as Record<string, unknown>).url = '/'),
    ['services.web.health.url: unknown field (expected one of path, port, timeoutSeconds)'],
  ],
  [
    'timeoutSeconds out of range',
    (_, web) => (web.health.timeoutSeconds = 0),
    ['services.web.health.timeoutSeconds: expected an integer from 1 to 3600'],
  ],
  [
    'a health path without a port',
    (_, web) => Reflect.deleteProperty(web.health, 'port'),
    ['services.web.health.port: required when health.path is set'],
  ],
  ['a health port alone is fine', (_, web) => Reflect.deleteProperty(web.health, 'path'), []],
  ['build not an object', (_, web) => (web.build = 'Dockerfile' as never), ['services.web.build: expected an object']],
  [
    'unknown build field',
    (_, web) => ((web.build as Record<string, unknown>).file = 'x'),
    ['services.web.build.file: unknown field (expected one of context, dockerfile, target, paths, args, secrets)'],
  ],
  ['build without context', (_, web) => Reflect.deleteProperty(web.build, 'context'), ['services.web.build.context: required']],
  ['empty dockerfile', (_, web) => (web.build.dockerfile = ''), ['services.web.build.dockerfile: expected a non-empty string']],
  ['target not a string', (_, web) => (web.build.target = 1 as never), ['services.web.build.target: expected a non-empty string']],
  ['build paths not a list', (_, web) => (web.build.paths = 'lib' as never), ['services.web.build.paths: expected a list of strings']],
  ['args not a map', (_, web) => (web.build.args = ['A=b'] as never), ['services.web.build.args: expected a map of strings']],
  [
    'a secret that is not a string',
    (_, web) => (web.build.secrets = { npm: 1 } as never),
    ['services.web.build.secrets.npm: expected a string'],
  ],
  ['smoke not a list', (p) => (p.smoke = {} as never), ['smoke: expected a list of checks']],
  ['a smoke check that is not an object', (p) => (p.smoke = ['/'] as never), ['smoke[0]: expected an object']],
  [
    'unknown smoke field',
    (p) => ((p.smoke[0] as Record<string, unknown>).method = 'GET'),
    ['smoke[0].method: unknown field (expected one of path, host, status, contains)'],
  ],
  ['empty smoke host', (p) => (p.smoke[0]!.host = ''), ['smoke[0].host: expected a non-empty string']],
  ['smoke status out of range', (p) => (p.smoke[0]!.status = 600), ['smoke[0].status: expected an integer from 100 to 599']],
  ['empty smoke contains', (p) => (p.smoke[0]!.contains = ''), ['smoke[0].contains: expected a non-empty string']],
  ['migrate not an object', (p) => (p.migrate = ['web'] as never), ['migrate: expected { service, command }']],
  ['migrate without service', (p) => Reflect.deleteProperty(p.migrate, 'service'), ['migrate.service: required']],
  ['migrate keeps accepting fields it does not name', (p) => ((p.migrate as Record<string, unknown>).note = 'x'), []],
];

describe('the product schema, rule by rule', () => {
  it('accepts a product that uses every field', () => {
    expect(validateProduct(valid(), 'shop')).toEqual({ errors: [], warnings: [] });
  });

  it.each(cases)('%s', (_, change, expected) => {
    const product = valid() as Product;
    change(product, product.services.web as Web);
    expect(validateProduct(product).errors).toEqual(expected);
  });

  it('refuses a default export that is not an object, and nothing else', () => {
    for (const value of [undefined, null, 'shop', []]) {
      expect(validateProduct(value).errors).toEqual(['(product): the default export must be defineProduct({...})']);
    }
  });

  it('names the file the product must match', () => {
    expect(validateProduct(valid(), 'store').errors).toEqual(["name: is 'shop' but the file is named for 'store'"]);
  });
});
