// The registry questions rollback, status and deploy preflight ask, against a small HTTP server on
// 127.0.0.1 standing in for the registry; docker is a fake runner that must only be asked when the
// registry wants credentials berth was not given.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registryUnreachable } from '../../lib/registry/client.mts';
import { createDigestLookup, hasRegistryHost, tagDigests } from '../../lib/registry/digest-lookup.mts';
import { fakeRunner } from '../support/fake-runner.mts';

const DIGEST = `sha256:${'d'.repeat(64)}`;

/** host:port on 127.0.0.1 where nothing listens any more. */
async function closedHost(): Promise<string> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return `127.0.0.1:${port}`;
}

describe('the registry client', () => {
  let server: Server;
  let host: string;
  let requests: string[];
  let answer: (req: IncomingMessage, res: ServerResponse) => void;

  beforeEach(async () => {
    requests = [];
    server = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      answer(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(
    () =>
      new Promise((resolve) => {
        server.close(resolve);
        server.closeAllConnections();
      }),
  );

  const status =
    (code: number, headers: Record<string, string> = {}) =>
    (_req: IncomingMessage, res: ServerResponse) =>
      res.writeHead(code, headers).end();

  it('answers from the manifest HEAD and asks once per reference', async () => {
    answer = (req, res) => res.writeHead(req.url?.includes('gone') ? 404 : req.url?.includes('odd') ? 500 : 200).end();
    const lookup = createDigestLookup(fakeRunner([]));
    expect(await lookup(`${host}/team/acme-web@${DIGEST}`)).toEqual({ exists: true, detail: 'the registry has it' });
    expect(await lookup(`${host}/team/acme-web@${DIGEST}`)).toEqual({ exists: true, detail: 'the registry has it' });
    expect(await lookup(`${host}/acme-gone@${DIGEST}`)).toEqual({ exists: false, absent: true, detail: 'the registry no longer has it' });
    // A tag (a release CI may not have pushed yet) is asked the same way.
    expect(await lookup(`${host}/acme-gone:3f2a91c`)).toMatchObject({ exists: false, absent: true });
    expect(await lookup(`${host}/acme-odd@${DIGEST}`)).toEqual({ exists: false, detail: 'the registry answered HTTP 500' });
    expect(requests).toEqual([
      `HEAD /v2/team/acme-web/manifests/${DIGEST}`,
      `HEAD /v2/acme-gone/manifests/${DIGEST}`,
      `HEAD /v2/acme-gone/manifests/3f2a91c`,
      `HEAD /v2/acme-odd/manifests/${DIGEST}`,
    ]);
  });

  it('asks docker (its stored login) only when the registry wants credentials', async () => {
    answer = status(401);
    const runner = fakeRunner([[/^docker manifest inspect --insecure /, { stdout: '{}' }]]);
    expect(await createDigestLookup(runner)(`${host}/acme-web@${DIGEST}`)).toEqual({ exists: true, detail: 'the registry has it' });
    expect(runner.calls).toEqual([`docker manifest inspect --insecure ${host}/acme-web@${DIGEST}`]);
  });

  it('asks docker for a reference without a registry host, and quotes its refusal', async () => {
    const runner = fakeRunner([[/^docker manifest inspect library\/busybox@/, { exitCode: 1, stderr: 'warning\nno such manifest' }]]);
    // "no such manifest" is the registry's 404 in docker's words: absent, not "cannot tell".
    expect(await createDigestLookup(runner)(`library/busybox@${DIGEST}`)).toEqual({
      exists: false,
      absent: true,
      detail: 'the registry says: no such manifest',
    });
    const refused = fakeRunner([[/^docker manifest inspect /, { exitCode: 1, stderr: 'unauthorized: authentication required' }]]);
    expect(await createDigestLookup(refused)(`library/busybox@${DIGEST}`)).toEqual({
      exists: false,
      detail: 'the registry says: unauthorized: authentication required',
    });
  });

  it('asks a registry that does not answer once, then says so for every image in it', async () => {
    const dead = await closedHost();
    const lookup = createDigestLookup(fakeRunner([]));
    const detail = `the registry ${dead} is unreachable (ECONNREFUSED)`;
    expect(await lookup(`${dead}/acme-web@${DIGEST}`)).toEqual({ exists: false, detail });
    expect(await lookup(`${dead}/acme-api@${DIGEST}`)).toEqual({ exists: false, detail });
  });

  it('reads the digest a tag names with one HEAD, and answers every failure with its reason instead of throwing', async () => {
    answer = (req, res) => {
      if (req.url?.includes('/private/')) {
        const basic = `Basic ${Buffer.from('ci:s3cret').toString('base64')}`;
        if (req.headers.authorization !== basic) return res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end();
      }
      if (req.url?.includes('odd')) return res.writeHead(500).end();
      if (req.url?.endsWith('/manifests/c2')) return res.writeHead(200, { 'docker-content-digest': DIGEST }).end();
      res.writeHead(404).end();
    };
    // Without credentials, a registry that wants them is asked through docker's stored login.
    const docker = fakeRunner([
      [/^docker manifest inspect --insecure .*private/, { exitCode: 1, stderr: 'unauthorized: authentication required' }],
    ]);
    const anonymous = tagDigests(createDigestLookup(docker));
    expect(await anonymous(`${host}/team/shop-web`, 'c2')).toEqual({ digest: DIGEST });
    expect(await anonymous(`${host}/team/shop-web`, 'c3')).toEqual({ unknown: `the registry has no ${host}/team/shop-web:c3` });
    expect(await anonymous(`${host}/odd`, 'c2')).toEqual({ unknown: 'the registry answered HTTP 500' });
    expect(await anonymous(`${host}/private/web`, 'c2')).toEqual({ unknown: 'the registry says: unauthorized: authentication required' });
    const withLogin = tagDigests(createDigestLookup(fakeRunner([]), 3_000, { username: 'ci', token: 's3cret' }));
    expect(await withLogin(`${host}/private/web`, 'c2')).toEqual({ digest: DIGEST });
    const wrongLogin = tagDigests(createDigestLookup(fakeRunner([]), 3_000, { username: 'ci', token: 'wrong' }));
    expect(await wrongLogin(`${host}/private/web`, 'c2')).toEqual({ unknown: "the registry refused berth's credentials (HTTP 401)" });
    expect(requests.filter((r) => r.endsWith('/manifests/c2')).every((r) => r.startsWith('HEAD '))).toBe(true);

    const dead = await closedHost();
    expect(await anonymous(`${dead}/shop-web`, 'c2')).toEqual({ unknown: `the registry ${dead} is unreachable (ECONNREFUSED)` });
    // Docker Hub shorthand names no registry host: nothing is asked.
    expect(hasRegistryHost('team/shop-web')).toBe(false);
    expect(hasRegistryHost('localhost/shop-web')).toBe(true);
    expect(await anonymous('team/shop-web', 'c2')).toEqual({ unknown: 'team/shop-web names no registry berth can ask' });
  });

  it('tells preflight whether the API root answers: 200 and 401 do', async () => {
    answer = status(200);
    expect(await registryUnreachable(host)).toBeUndefined();
    answer = status(401, { 'www-authenticate': 'Bearer realm="http://127.0.0.1:1/token"' });
    expect(await registryUnreachable(host)).toBeUndefined();
    answer = status(503);
    expect(await registryUnreachable(host)).toBe('answered HTTP 503');
    expect(requests).toEqual(['GET /v2/', 'GET /v2/', 'GET /v2/']);
    expect(await registryUnreachable(await closedHost())).toBe('ECONNREFUSED');
  });
});
