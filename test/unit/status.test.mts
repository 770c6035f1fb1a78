import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { containerState } from '../support/containers.mts';
import { describe, expect, it } from 'vitest';
import { loadCatalogue } from '../../lib/config/catalogue.mts';
import type { Settings } from '../../lib/config/load.mts';
import type { ContainerState } from '../../lib/engine/engine.mts';
import type { ReleaseKind, ReleaseRecord } from '../../lib/releases/ledger.mts';
import type { StatusReport } from '../../lib/ops/status.mts';
import { deployedBy, productState, routeStatus, serviceStatus, tagOf } from '../../lib/ops/status-rules.mts';
import { formatStatus, productErrors } from '../../lib/ops/status-text.mts';

const REG = '127.0.0.1:5999';
const id = (n: string) => `sha256:${n.padEnd(64, '0')}`;

function rec(tag: string, web: string, kind: ReleaseKind = 'deploy', who = 'alice', result: 'ok' | 'failed' = 'ok'): ReleaseRecord {
  return {
    time: `2026-11-01T10:0${tag.length}:00Z`,
    who,
    host: 'vm',
    product: 'acme',
    tag,
    kind,
    result,
    services: { web: { image: `${REG}/acme-web:${tag}`, id: id(web) } },
    changed: ['web'],
  };
}

function container(imageTag: string, web: string, extra: Partial<ContainerState> = {}): ContainerState {
  return containerState({
    id: 'c0ffee000000aaaa',
    name: 'acme_web_1',
    image: `${REG}/acme-web:${imageTag}`,
    imageId: id(web),
    createdAt: '2026-11-01T10:00:00Z',
    ...extra,
  });
}

describe('status of a service', () => {
  it('reads the tag from the image reference, registry port or not', () => {
    expect(tagOf(`${REG}/acme-web:abc123`)).toBe('abc123');
    expect(tagOf('acme-web')).toBe('latest');
    expect(tagOf('localhost:5000/acme-web')).toBe('latest');
    expect(tagOf(`${REG}/acme-web@sha256:abc`)).toBeUndefined();
  });

  it('dates an image from the first release of its current streak: a rollback is a new deploy of it', () => {
    const ledger = [rec('v1', 'w1'), rec('v2', 'w2'), rec('v1', 'w1', 'rollback', 'bob'), rec('v3', 'w1', 'deploy', 'carol')];
    expect(deployedBy(ledger, 'web', id('w1'))).toMatchObject({ tag: 'v1', kind: 'rollback', who: 'bob' });
    expect(deployedBy(ledger, 'web', id('w2'))).toBeUndefined();
  });

  it('joins the running container, its digest and the ledger', () => {
    const ledger = [rec('v1', 'w1'), rec('v2', 'w2', 'deploy', 'bob'), rec('v3', 'w3', 'deploy', 'carol', 'failed')];
    const status = serviceStatus({ name: 'web', kind: 'http', repository: `${REG}/acme-web` }, [container('v2', 'w2')], ledger, {
      [id('w2')]: ['berth-fixture/x@sha256:zzz', `${REG}/acme-web@sha256:abc`],
    });
    expect(status).toMatchObject({
      state: 'running',
      health: 'healthy',
      tag: 'v2',
      imageId: id('w2'),
      digest: `${REG}/acme-web@sha256:abc`,
      deployedBy: 'bob',
      release: 'v2',
      deployKind: 'deploy',
      matchesLedger: true,
    });
    expect(status.containers).toEqual([
      { id: 'c0ffee000000', name: 'acme_web_1', status: 'running', health: 'healthy', createdAt: '2026-11-01T10:00:00Z', restartCount: 0 },
    ]);
  });

  it('says when what runs is not what the ledger says', () => {
    const status = serviceStatus({ name: 'web', kind: 'http' }, [container('hotfix', 'h1')], [rec('v2', 'w2')], {});
    expect(status).toMatchObject({ tag: 'hotfix', matchesLedger: false });
    expect(status.deployedAt).toBeUndefined();
    expect(productState({}, [status], [rec('v2', 'w2')])).toBe('degraded');
  });

  it('flags a container created from another config than its release recorded, and says nothing when none was recorded', () => {
    const recorded = rec('v2', 'w2');
    (recorded.services.web as { config?: string }).config = 'compose:aaa';
    const labels = (hash: string) => ({ 'com.docker.compose.config-hash': hash });
    const same = serviceStatus({ name: 'web', kind: 'http' }, [container('v2', 'w2', { labels: labels('aaa') })], [recorded], {});
    expect(same.configMatches).toBe(true);
    const handRun = serviceStatus({ name: 'web', kind: 'http' }, [container('v2', 'w2', { labels: labels('bbb') })], [recorded], {});
    expect(handRun).toMatchObject({ matchesLedger: true, configMatches: false });
    // berth's own label outranks Compose's: a replica berth started is judged by its digest.
    const replica = container('v2', 'w2', { labels: { ...labels('aaa'), 'berth.config-digest': 'd1' } });
    expect(serviceStatus({ name: 'web', kind: 'http' }, [replica], [recorded], {}).configMatches).toBe(false);
    expect(serviceStatus({ name: 'web', kind: 'http' }, [container('v2', 'w2')], [rec('v2', 'w2')], {}).configMatches).toBeUndefined();
    const report: StatusReport = {
      host: 'vm',
      time: '2026-11-01T10:00:00Z',
      products: [
        {
          product: 'acme',
          state: 'running',
          release: { tag: 'v2', time: '2026-11-01T10:00:00Z', who: 'bob', kind: 'deploy' },
          services: [handRun],
          routes: [],
          rollbackTargets: [],
          unavailable: [],
        },
      ],
    };
    expect(formatStatus(report).join('\n')).toContain("(config differs from v2's: deploy it again to apply it)");
  });

  it('reports the worst health of the replicas, and stopped or missing services', () => {
    const two = serviceStatus(
      { name: 'web', kind: 'http' },
      [container('v1', 'w1'), container('v1', 'w1', { health: 'unhealthy' })],
      [rec('v1', 'w1')],
      {},
    );
    expect(two.health).toBe('unhealthy');
    const stopped = serviceStatus(
      { name: 'web', kind: 'http' },
      [container('v1', 'w1', { running: false, status: 'exited' })],
      [rec('v1', 'w1')],
      {},
    );
    expect(stopped).toMatchObject({ state: 'stopped', health: 'stopped' });
    expect(serviceStatus({ name: 'web', kind: 'http' }, [], [], {})).toMatchObject({ state: 'missing', health: 'missing' });
  });

  it('a product whose repo is elsewhere, with no containers and no ledger, is not deployed here', () => {
    const missing = serviceStatus({ name: 'web', kind: 'http' }, [], [], {});
    expect(productState({ problem: 'repo: /srv/clock does not exist', absent: true }, [missing], [])).toBe('not deployed here');
    expect(productState({}, [missing], [])).toBe('not deployed here');
    expect(productState({}, [missing], [rec('v1', 'w1')])).toBe('stopped');
    // It ran here once: a repo gone since is an error, not an absence.
    expect(productState({ problem: 'repo: /srv/clock does not exist', absent: true }, [missing], [rec('v1', 'w1')])).toBe('error');
    expect(productState({ problem: 'registry: not set' }, [missing], [rec('v1', 'w1')])).toBe('error');
  });

  it('a product whose definition is wrong is in error, deployed or not', () => {
    const missing = serviceStatus({ name: 'web', kind: 'http' }, [], [], {});
    expect(productState({ problem: 'services.web.kind: expected one of http, worker, proxy, stateful' }, [missing], [])).toBe('error');
    expect(productState({ problem: 'products/x.mts cannot be loaded (Unexpected token)' }, [], [])).toBe('error');
  });
});

describe('routes', () => {
  const web = { name: 'web', kind: 'http' as const, repository: 'r/web', health: { port: 8080 } };
  const edge = {
    file: '',
    project: 'edge',
    service: 'caddy',
    network: 'edge',
    sitesDir: '',
    mountedAt: '/s',
    config: '/c',
    scheme: 'http' as const,
  };

  it('behind the edge: every host and path, and what each container its upstreams name is doing', () => {
    const product = { edge, services: { web: { ...web, routes: [{ host: 'a.test' }, { host: 'b.test', path: '/api' }] } } };
    const containers = [containerState({ id: 'c2', name: 'acme-web-2' }), containerState({ id: 'c1', name: 'acme-web-1', running: false })];
    const upstreams = { web: ['acme-web-2:8080', 'acme-web-1:8080', 'acme-web-9:8080'] } as Record<string, string[]>;
    const reach = [
      { address: 'acme-web-2:8080', container: 'acme-web-2', state: 'running', health: 'healthy' },
      { address: 'acme-web-1:8080', container: 'acme-web-1', state: 'stopped', health: 'healthy' },
      { address: 'acme-web-9:8080', state: 'missing' },
    ];
    expect(routeStatus(product, containers, (s) => upstreams[s])).toEqual([
      { host: 'a.test', service: 'web', via: 'edge', upstreams: reach },
      { host: 'b.test', path: '/api', service: 'web', via: 'edge', upstreams: reach },
    ]);
  });

  it("behind the product's own proxy: each switched service, no host; none before the first switch", () => {
    const product = { services: { proxy: { name: 'proxy', kind: 'proxy' as const, repository: 'r/p' }, web } };
    const ip = containerState({ id: 'c1', name: 'acme_web_1', networks: { acme_default: '172.18.0.5' } });
    expect(routeStatus(product, [ip], () => ['172.18.0.5:8080'])).toEqual([
      {
        service: 'web',
        via: 'proxy',
        upstreams: [{ address: '172.18.0.5:8080', container: 'acme_web_1', state: 'running', health: 'healthy' }],
      },
    ]);
    expect(routeStatus(product, [ip], () => undefined)).toEqual([]);
  });
});

describe('the human form', () => {
  it('shows one line per service and the rollback targets', () => {
    const report: StatusReport = {
      host: 'vm',
      time: '2026-11-01T12:00:00Z',
      products: [
        {
          product: 'clock',
          state: 'not deployed here',
          reason: 'repo: /srv/clock does not exist',
          services: [],
          routes: [],
          rollbackTargets: [],
          unavailable: [],
        },
        {
          product: 'acme',
          state: 'running',
          release: { tag: 'b'.repeat(40), time: '2026-11-01T11:00:00Z', who: 'bob', kind: 'rollback' },
          services: [
            serviceStatus(
              { name: 'web', kind: 'http', repository: `${REG}/acme-web` },
              [container('b'.repeat(40), 'w2')],
              [rec('b'.repeat(40), 'w2', 'rollback', 'bob')],
              {
                [id('w2')]: [`${REG}/acme-web@sha256:0123456789abcdef`],
              },
            ),
          ],
          routes: [
            {
              host: 'acme.example.com',
              path: '/api',
              service: 'web',
              via: 'edge',
              upstreams: [{ address: 'acme-web-2:8080', container: 'acme-web-2', state: 'running', health: 'healthy' }],
            },
          ],
          rollbackTargets: [{ tag: 'a'.repeat(40), time: '2026-11-01T10:00:00Z', who: 'alice', kind: 'deploy', images: 'registry' }],
          unavailable: [{ tag: 'v0', reason: 'gone' }],
        },
      ],
    };
    const lines = formatStatus(report, Date.parse('2026-11-01T12:00:00Z'));
    expect(productErrors(report)).toEqual([]);
    expect(lines[0]).toBe('clock: not deployed here (repo: /srv/clock does not exist)');
    expect(lines[1]).toBe(`acme: running, release ${'b'.repeat(12)} rollback by bob 60m ago`);
    expect(lines[2]).toMatch(new RegExp(`^  web +running +healthy +${'b'.repeat(12)} 0123456789ab rollback by bob`));
    expect(lines[3]).toBe('  route acme.example.com/api     -> web: acme-web-2 (healthy)');
    expect(lines[4]).toBe(`  rollback to: ${'a'.repeat(12)} (pull)  (1 older release no longer available)`);
  });
});

describe('a product in error', () => {
  it('is one line with every reason, and one error line naming the fix', () => {
    const broken = {
      product: 'notes',
      state: 'error' as const,
      reason: 'services.web.kind: expected one of http, worker, proxy, stateful; composeFiles: expected a non-empty list of strings',
      fix: 'fix these 2 fields and rerun',
      services: [],
      routes: [],
      rollbackTargets: [],
      unavailable: [],
    };
    const report: StatusReport = { host: 'vm', time: '2026-11-01T12:00:00Z', products: [broken] };
    expect(formatStatus(report)).toEqual([`notes: error (${broken.reason})`]);
    expect(productErrors(report)).toEqual([`notes: ${broken.reason}: fix these 2 fields and rerun`]);
  });
});

describe('the catalogue', () => {
  it('tells a product whose repo is elsewhere from one whose definition is wrong', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-unit-catalogue-'));
    try {
      const productsDir = join(dir, 'products');
      mkdirSync(productsDir);
      mkdirSync(join(dir, 'here'));
      const file = (name: string, fields: string) =>
        writeFileSync(join(productsDir, `${name}.mts`), `export default { name: '${name}', composeFiles: ['compose.yaml'], ${fields} };\n`);
      file('ghost', `repo: '${join(dir, 'elsewhere')}', services: { web: { kind: 'http' } }`);
      file('broken', `repo: '${join(dir, 'elsewhere')}', services: { web: { kind: 'webserver' } }`);
      file('wrong', `repo: 'here', services: { web: { kind: 'http', health: { path: 'healthz' } } }`);
      writeFileSync(join(productsDir, 'unparsable.mts'), 'export default {\n');
      const settings = { productsDir, stateDir: join(dir, 'state'), workspace: dir, registry: REG, env: {} } as unknown as Settings;
      const entries = Object.fromEntries((await loadCatalogue(settings)).map((e) => [e.name, e]));
      expect(entries.ghost).toMatchObject({ absent: true, problem: expect.stringContaining('elsewhere does not exist') });
      for (const name of ['broken', 'wrong', 'unparsable']) {
        expect(entries[name]?.absent, name).toBeUndefined();
        expect(entries[name]?.problem, name).toBeTruthy();
        // Each names what to do; the words depend on the failure (the loader's own, for a file that does not load).
        expect(entries[name]?.fix, name).toBeTruthy();
      }
      expect(entries.broken?.problem).toMatch(/^services\.web\.kind: /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('script arguments', () => {
  it('are the same under node and under npx zx', async () => {
    const { scriptArgs } = await import('../../lib/core/cli.mts');
    const url = 'file:///srv/berth/scripts/status.mts';
    expect(scriptArgs(url, ['/usr/bin/node', '/srv/berth/scripts/status.mts', 'acme', '--json'])).toEqual(['acme', '--json']);
    expect(scriptArgs(url, ['/usr/bin/node', '/srv/berth/node_modules/.bin/zx', '/srv/berth/scripts/status.mts', 'acme'])).toEqual([
      'acme',
    ]);
    expect(scriptArgs(url, ['/usr/bin/node', '/elsewhere/wrapper.mjs', 'acme'])).toEqual(['acme']);
  });
});
