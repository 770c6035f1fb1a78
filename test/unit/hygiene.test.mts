import { describe, expect, it } from 'vitest';
import { parseSize } from '../../lib/core/bytes.mts';
import { diskUsage, logRotation, memoryReport, parseHostInspect, type ContainerHost } from '../../lib/ops/hygiene/audits.mts';
import {
  imagesToKeep,
  keptReleases,
  parseImageList,
  planImageRemoval,
  removalRef,
  type LocalImage,
} from '../../lib/ops/hygiene/retention.mts';
import type { ReleaseRecord, ReleaseResult, ReleaseKind } from '../../lib/releases/ledger.mts';

const REG = '127.0.0.1:5999';
const id = (n: string) => `sha256:${n.padEnd(64, '0')}`;

function rec(tag: string, ids: Record<string, string>, result: ReleaseResult = 'ok', kind: ReleaseKind = 'deploy'): ReleaseRecord {
  return {
    time: '2026-11-01T10:00:00Z',
    who: 'alice',
    host: 'vm',
    product: 'acme',
    tag,
    kind,
    result,
    services: Object.fromEntries(
      Object.entries(ids).map(([svc, n]) => [
        svc,
        { image: `${REG}/acme-${svc}:${tag}`, id: id(n), digest: `${REG}/acme-${svc}@sha256:${n.padEnd(64, 'f')}` },
      ]),
    ),
    changed: Object.keys(ids),
  };
}

// Seven releases: web changes every time, api only at v1, v4 and v7 (unchanged services keep their image).
const seven = [1, 2, 3, 4, 5, 6, 7].map((n) => rec(`v${n}`, { web: `w${n}`, api: `a${n <= 3 ? 1 : n <= 6 ? 4 : 7}` }));

describe('which images hygiene keeps', () => {
  it('keeps the last N distinct releases that ended well', () => {
    expect(keptReleases(seven, 5)).toEqual(['v7', 'v6', 'v5', 'v4', 'v3']);
    expect(keptReleases([...seven, rec('v8', { web: 'w8' }, 'failed')], 2)).toEqual(['v7', 'v6']);
    // Rolling back and forth does not shrink the history that is kept.
    expect(keptReleases([...seven, rec('v3', { web: 'w3' }, 'ok', 'rollback'), rec('v4', { web: 'w4' }, 'ok', 'rollback')], 5)).toEqual([
      'v4',
      'v3',
      'v7',
      'v6',
      'v5',
    ]);
  });

  it('keeps by image ID: the running release and the last five, whatever their tags', () => {
    const keep = imagesToKeep([{ product: 'acme', records: seven, keep: 5, running: [id('w7'), id('a7')] }]);
    expect([...keep.ids.keys()].sort()).toEqual([id('w3'), id('w4'), id('w5'), id('w6'), id('w7'), id('a1'), id('a4'), id('a7')].sort());
    expect(keep.ids.get(id('w7'))).toEqual(['acme: a container uses it', 'acme v7 (web)']);
    expect(keep.ids.get(id('a1'))).toEqual(['acme v3 (api)']);
    expect(keep.digests.has(`${REG}/acme-web@sha256:${'w3'.padEnd(64, 'f')}`)).toBe(true);
    expect(keep.digests.has(`${REG}/acme-web@sha256:${'w2'.padEnd(64, 'f')}`)).toBe(false);
  });

  it('keeps what runs even when it is older than the last N (a rollback far back)', () => {
    const keep = imagesToKeep([
      { product: 'acme', records: [...seven, rec('v1', { web: 'w1', api: 'a1' }, 'ok', 'rollback')], keep: 2, running: [id('w1')] },
    ]);
    expect([...keep.ids.keys()].sort()).toEqual([id('w1'), id('a1'), id('w7'), id('a7')].sort());
  });

  it('a failed release protects nothing, not even its images', () => {
    const keep = imagesToKeep([
      { product: 'acme', records: [rec('v1', { web: 'w1' }), rec('v2', { web: 'w2' }, 'failed')], keep: 5, running: [id('w1')] },
    ]);
    expect(keep.ids.has(id('w2'))).toBe(false);
  });
});

describe('which image references hygiene removes', () => {
  const image = (repository: string, tag: string, n: string, digest = '<none>'): LocalImage => ({ repository, tag, digest, id: id(n) });
  const web = `${REG}/acme-web`;
  const images = [
    image(web, 'v1', 'w1', 'sha256:d1'),
    image(web, 'v2', 'w2'),
    image(web, 'old-name-for-v3', 'w3'),
    image(web, 'v3', 'w3'),
    image(web, '<none>', 'w0', 'sha256:d0'),
    image(web, '<none>', 'w9', 'sha256:d9'),
    image('berth-fixture/http-app', 'v1', 'w1'),
    image('<none>', '<none>', 'x1'),
    image(`${REG}/other-web`, 'v1', 'o1'),
  ];
  const keep = { ids: new Map([[id('w3'), ['acme v3 (web)']]]), digests: new Set([`${web}@sha256:d9`]) };

  it('removes only references in the products own repositories whose image nobody keeps', () => {
    const plan = planImageRemoval(images, new Set([web]), keep, new Set([id('w2')]));
    expect(plan.remove.map((r) => r.ref)).toEqual([`${web}:v1`, `${web}@sha256:d0`]);
    expect(plan.keep.map((r) => [r.ref, r.why])).toEqual([
      [`${web}:v2`, 'a container uses it'],
      [`${web}:old-name-for-v3`, 'acme v3 (web)'],
      [`${web}:v3`, 'acme v3 (web)'],
      [`${web}@sha256:d9`, 'a kept release names its digest'],
    ]);
  });

  it('names images the way docker removes them', () => {
    expect(removalRef(image(web, 'v1', 'w1', 'sha256:d1'))).toBe(`${web}:v1`);
    expect(removalRef(image(web, '<none>', 'w1', 'sha256:d1'))).toBe(`${web}@sha256:d1`);
    expect(removalRef(image('<none>', '<none>', 'w1'))).toBeUndefined();
  });

  it('reads docker image ls JSON lines', () => {
    const line = JSON.stringify({ Repository: web, Tag: 'v1', Digest: 'sha256:d1', ID: id('w1'), Size: '2MB' });
    expect(parseImageList(`${line}\n`)).toEqual([{ repository: web, tag: 'v1', digest: 'sha256:d1', id: id('w1') }]);
  });
});

describe('log rotation', () => {
  it('flags json-file without max-size, and local with rotation turned off', () => {
    expect(logRotation('json-file', {})).toEqual({ bounded: false, how: 'json-file without max-size: grows until the disk is full' });
    expect(logRotation('json-file', { 'max-size': '-1' }).bounded).toBe(false);
    expect(logRotation('json-file', { 'max-size': '10m', 'max-file': '3' })).toEqual({
      bounded: true,
      how: 'json-file, max-size 10m x max-file 3',
    });
    expect(logRotation('local', {}).bounded).toBe(true);
    expect(logRotation('local', { 'max-size': '-1' }).bounded).toBe(false);
    expect(logRotation('journald', {}).bounded).toBe(true);
    expect(logRotation('none', {}).bounded).toBe(true);
  });

  it('reads the log config and memory from docker inspect', () => {
    const json = JSON.stringify([
      {
        Id: 'c1',
        Name: '/acme_web_1',
        Image: id('w1'),
        LogPath: '/var/lib/docker/containers/c1/c1-json.log',
        State: { Running: true },
        Config: { Labels: { 'com.docker.compose.project': 'acme', 'com.docker.compose.service': 'web' } },
        HostConfig: { LogConfig: { Type: 'json-file', Config: {} }, Memory: 67108864, MemoryReservation: 0 },
      },
    ]);
    expect(parseHostInspect(json)).toEqual([
      {
        id: 'c1',
        name: 'acme_web_1',
        project: 'acme',
        service: 'web',
        imageId: id('w1'),
        running: true,
        logDriver: 'json-file',
        logOptions: {},
        logPath: '/var/lib/docker/containers/c1/c1-json.log',
        memoryBytes: 67108864,
        memoryReservationBytes: 0,
      },
    ]);
  });

  it("names a swarm task container's product stack and its service as the compose file does", () => {
    const json = JSON.stringify([
      {
        Id: 'c2',
        Name: '/acme_web.1.x7k2',
        Image: id('w2'),
        State: { Running: false },
        Config: { Labels: { 'com.docker.stack.namespace': 'acme', 'com.docker.swarm.service.name': 'acme_web' } },
        HostConfig: {},
      },
    ]);
    expect(parseHostInspect(json)).toEqual([expect.objectContaining({ project: 'acme', service: 'web', running: false })]);
  });
});

describe('memory', () => {
  const c = (product: string, service: string, memoryBytes: number, memoryReservationBytes = 0, running = true) =>
    ({ product, service, name: `${product}_${service}`, memoryBytes, memoryReservationBytes, running }) as ContainerHost & {
      product: string;
    };

  it('sums the limits of running containers (replicas each count) and names services with neither limit nor reservation', () => {
    const report = memoryReport(
      [
        c('acme', 'web', 64 * 2 ** 20),
        c('acme', 'web', 64 * 2 ** 20),
        c('acme', 'api', 48 * 2 ** 20, 16 * 2 ** 20),
        c('acme', 'cron', 0),
        c('acme', 'db', 0, 8 * 2 ** 20),
        c('acme', 'gone', 2 ** 30, 0, false),
      ],
      2 ** 30,
    );
    expect(report.limitBytes).toBe(176 * 2 ** 20);
    expect(report.reservationBytes).toBe(24 * 2 ** 20);
    expect(report.overcommitted).toBe(false);
    expect(report.unbounded).toEqual(['acme/cron']);
    expect(report.services.find((s) => s.service === 'web')).toMatchObject({ containers: 2, limitBytes: 128 * 2 ** 20 });
    expect(memoryReport([c('a', 'x', 2 ** 31)], 2 ** 30).overcommitted).toBe(true);
  });
});

describe('disk', () => {
  it('counts used percent the way df does (root-reserved blocks are not available)', () => {
    // 100 blocks, 30 free of which 20 available to users: used 70 / (70 + 20) = 77.8%.
    expect(diskUsage({ blocks: 100, bfree: 30, bavail: 20, bsize: 4096 }, '/var/lib/docker', 80)).toEqual({
      path: '/var/lib/docker',
      totalBytes: 409600,
      freeBytes: 81920,
      usedPercent: 77.8,
      threshold: 80,
      over: false,
    });
    expect(diskUsage({ blocks: 100, bfree: 10, bavail: 5, bsize: 4096 }, '/', 80).over).toBe(true);
  });

  it('reads sizes in docker units', () => {
    expect(parseSize('5GB')).toBe(5 * 2 ** 30);
    expect(parseSize('512m')).toBe(512 * 2 ** 20);
    expect(parseSize('1.5g')).toBe(1.5 * 2 ** 30);
    expect(parseSize('100')).toBe(100);
    expect(parseSize('5 parsecs')).toBeUndefined();
    // Docker would wrap this around to a few bytes and prune nearly everything.
    expect(parseSize('99999999999999999999TB')).toBeUndefined();
    expect(parseSize('1TB')).toBe(2 ** 40);
  });
});

describe('images in use', () => {
  it('ignores a container removed between the listing and the inspect, and fails on any other inspect error', async () => {
    const { imagesInUse } = await import('../../lib/ops/hygiene/cleanups.mts');
    const { fakeRunner } = await import('../support/fake-runner.mts');
    const listing: [RegExp, { stdout: string }] = [/^docker ps /, { stdout: 'c1\nc2\n' }];
    const vanished = fakeRunner([
      listing,
      [/^docker inspect /, { exitCode: 1, stdout: '/a|sha256:aaa\n', stderr: 'Error: No such object: c2\n' }],
    ]);
    expect([...(await imagesInUse(vanished))]).toEqual(['sha256:aaa']);
    const broken = fakeRunner([listing, [/^docker inspect /, { exitCode: 1, stderr: 'Cannot connect to the Docker daemon\n' }]]);
    await expect(imagesInUse(broken)).rejects.toThrow(/cannot tell which images containers use: Cannot connect/);
  });
});
