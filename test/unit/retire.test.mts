// Retire's order and its refusals, with a fake runner answering from a command table: the routes
// leave the shared edge before anything stops, a reload the edge refuses puts the site file back
// and stops there, and a product running the edge others route through is refused.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSettings, type Settings } from '../../lib/config/load.mts';
import { BerthError } from '../../lib/core/errors.mts';
import { silentUi } from '../../lib/core/ui.mts';
import { siteHosts } from '../../lib/ops/retire-plan.mts';
import { retireProduct } from '../../lib/ops/retire.mts';
import { fakeRunner, type Row } from '../support/fake-runner.mts';

const DEFINE_URL = new URL('../../lib/config/define.mts', import.meta.url).href;
const REG = '127.0.0.1:5999';
const id = (n: string) => `sha256:${n.padEnd(64, '0')}`;
const SITE = '# Written by berth for acme\nhttp://acme.test {\n\thandle {\n\t\treverse_proxy {\n\t\t\tto acme-web:8080\n\t\t}\n\t}\n}\n';

function inspect(cid: string, name: string, project: string, service: string, image: string) {
  return {
    Id: cid,
    Name: `/${name}`,
    Image: image,
    Created: '2026-11-28T10:00:00Z',
    RestartCount: 0,
    Config: { Image: 'x', Labels: { 'com.docker.compose.project': project, 'com.docker.compose.service': service } },
    State: { Status: 'running', Running: true },
    NetworkSettings: { Networks: {} },
  };
}

describe('retire', () => {
  let dir: string;
  let settings: Settings;
  let sites: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'berth-unit-retire-'));
    mkdirSync(join(dir, 'products'));
    for (const repo of ['acme', 'front']) {
      mkdirSync(join(dir, repo));
      writeFileSync(join(dir, repo, 'compose.yaml'), 'services: {}\n');
    }
    writeFileSync(
      join(dir, 'products', 'edge.mts'),
      `import { defineEdge } from '${DEFINE_URL}';\nexport default defineEdge({ project: 'front', service: 'caddy', network: 'edge', mountedAt: '/etc/caddy/sites', scheme: 'http' });\n`,
    );
    writeFileSync(
      join(dir, 'products', 'acme.mts'),
      `import { defineProduct } from '${DEFINE_URL}';\nexport default defineProduct({ name: 'acme', repo: 'acme', composeFiles: ['compose.yaml'], services: { web: { kind: 'http', health: { path: '/healthz', port: 8080 }, routes: [{ host: 'acme.test' }] } } });\n`,
    );
    writeFileSync(
      join(dir, 'products', 'front.mts'),
      `import { defineProduct } from '${DEFINE_URL}';\nexport default defineProduct({ name: 'front', repo: 'front', composeFiles: ['compose.yaml'], services: { caddy: { kind: 'proxy' } } });\n`,
    );
    sites = join(dir, 'state', 'edge');
    mkdirSync(sites, { recursive: true });
    writeFileSync(join(sites, 'acme.caddy'), SITE);
    mkdirSync(join(dir, 'state', 'acme'), { recursive: true });
    writeFileSync(join(dir, 'state', 'acme', 'releases.jsonl'), '{"tag":"v1","result":"ok","services":{}}\n');
    settings = loadSettings({
      BERTH_PRODUCTS_DIR: join(dir, 'products'),
      BERTH_WORKSPACE: dir,
      BERTH_STATE_DIR: join(dir, 'state'),
      BERTH_REGISTRY: REG,
      BERTH_ENV_FILE: join(dir, 'none'),
    });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const table = (reload: { exitCode?: number; stderr?: string } = {}): Row[] => [
    [
      /^docker ps --quiet --no-trunc --filter label=com.docker.compose.project=front --filter label=com.docker.compose.service=caddy/,
      { stdout: 'e1\n' },
    ],
    [/^docker inspect --type container e1$/, { stdout: JSON.stringify([inspect('e1', 'front-caddy-1', 'front', 'caddy', id('caddy'))]) }],
    [/^docker ps --quiet --no-trunc --all --filter label=com.docker.compose.project=acme$/, { stdout: 'c1\n' }],
    [/^docker inspect --type container c1$/, { stdout: JSON.stringify([inspect('c1', 'acme-web', 'acme', 'web', id('web'))]) }],
    [/^docker network ls --filter label=com.docker.compose.project=acme/, { stdout: 'acme_default\n' }],
    [/^docker volume ls --filter label=com.docker.compose.project=acme/, { stdout: 'acme_data\n' }],
    // Another user's container, removed between the listing and the inspect: a shared engine.
    [/^docker ps --all --quiet --no-trunc$/, { stdout: 'c1\ne1\ngone1\n' }],
    [/^docker inspect --type container (e1 )?gone1$/, { exitCode: 1, stderr: 'Error response from daemon: No such container: gone1' }],
    [
      /^docker image ls --all --no-trunc --digests/,
      {
        stdout: [
          { Repository: `${REG}/acme-web`, Tag: 'v1', Digest: '<none>', ID: id('web') },
          { Repository: `${REG}/acme-web`, Tag: '<none>', Digest: 'sha256:d0', ID: id('old') },
          { Repository: 'caddy', Tag: '2', Digest: '<none>', ID: id('caddy') },
        ]
          .map((row) => JSON.stringify(row))
          .join('\n'),
      },
    ],
    [/^docker exec e1 caddy reload --config \/etc\/caddy\/Caddyfile --adapter caddyfile$/, reload],
    [/^docker stop c1$/, {}],
    [/^docker rm c1$/, {}],
    [/^docker network rm acme_default$/, {}],
    [/^docker image rm /, {}],
  ];

  it('takes the routes off the edge first, then containers, network and images; keeps the volume; archives the state', async () => {
    const runner = fakeRunner(table());
    const result = await retireProduct(runner, silentUi(), settings, 'acme', { yes: true });
    expect(runner.runs).toEqual([
      'docker exec e1 caddy reload --config /etc/caddy/Caddyfile --adapter caddyfile',
      'docker stop c1',
      'docker rm c1',
      'docker network rm acme_default',
      `docker image rm ${REG}/acme-web:v1`,
      `docker image rm ${REG}/acme-web@sha256:d0`,
    ]);
    expect(result.plan.routes).toEqual({ file: join(sites, 'acme.caddy'), hosts: ['acme.test'], edge: 'front-caddy-1' });
    expect(result.plan.volumes).toEqual([{ name: 'acme_data', action: 'keep' }]);
    expect(result).toMatchObject({ retired: true, failed: [] });
    expect(existsSync(join(sites, 'acme.caddy'))).toBe(false);
    expect(existsSync(join(dir, 'state', 'acme', 'releases.jsonl'))).toBe(false);
    expect(readFileSync(join(result.plan.state.archive as string, 'releases.jsonl'), 'utf8')).toContain('"v1"');
    expect(existsSync(join(dir, 'state', 'acme', 'lock'))).toBe(false);
  });

  it('without --yes runs nothing and moves nothing', async () => {
    const runner = fakeRunner(table());
    const result = await retireProduct(runner, silentUi(), settings, 'acme', {});
    expect(runner.runs).toEqual([]);
    expect(result.retired).toBe(false);
    expect(result.plan.images).toEqual([`${REG}/acme-web:v1`, `${REG}/acme-web@sha256:d0`]);
    expect(existsSync(join(sites, 'acme.caddy'))).toBe(true);
    expect(existsSync(join(dir, 'state', 'acme', 'releases.jsonl'))).toBe(true);
  });

  it('a reload the edge refuses puts the site file back and stops before any container', async () => {
    const runner = fakeRunner(table({ exitCode: 1, stderr: 'Error: adapting config using caddyfile: bad' }));
    const error = await retireProduct(runner, silentUi(), settings, 'acme', { yes: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BerthError);
    expect((error as BerthError).line).toMatch(
      /^the edge proxy did not reload without acme's routes: adapting config using caddyfile: bad: .* is back and nothing else was changed/,
    );
    expect(runner.runs).toEqual(['docker exec e1 caddy reload --config /etc/caddy/Caddyfile --adapter caddyfile']);
    expect(readFileSync(join(sites, 'acme.caddy'), 'utf8')).toBe(SITE);
    expect(existsSync(join(dir, 'state', 'acme', 'releases.jsonl'))).toBe(true);
  });

  it('--volumes removes the named volume and the anonymous ones with the containers', async () => {
    const runner = fakeRunner([...table(), [/^docker rm --volumes c1$/, {}], [/^docker volume rm acme_data$/, {}]]);
    await retireProduct(runner, silentUi(), settings, 'acme', { yes: true, volumes: true });
    expect(runner.runs.slice(1, 5)).toEqual([
      'docker stop c1',
      'docker rm --volumes c1',
      'docker network rm acme_default',
      'docker volume rm acme_data',
    ]);
  });

  it('refuses the product running the edge while others route through it', async () => {
    const runner = fakeRunner(table());
    const error = await retireProduct(runner, silentUi(), settings, 'front', { yes: true }).catch((e: unknown) => e);
    expect((error as BerthError).line).toMatch(
      /^front runs the shared edge \(.*edge\.mts\), and acme route through it: retiring it takes their routes down: /,
    );
    expect(runner.runs).toEqual([]);
  });

  it('reads the hosts of a site file', () => {
    expect(siteHosts(SITE)).toEqual(['acme.test']);
    expect(siteHosts('a.example.com {\n\t@route0 path /x /x/*\n\thandle @route0 {\n\t}\n}\nhttp://b.example.com {\n}\n')).toEqual([
      'a.example.com',
      'b.example.com',
    ]);
  });
});
