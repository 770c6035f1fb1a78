// httpGet is how smoke checks ask a proxy that routes by host: the Host header must arrive (fetch
// drops it), and over TLS the host is also the SNI name and an untrusted certificate is no failure.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { httpGet } from '../../lib/deploy/proxy.mts';

const servers: Server[] = [];
const dir = mkdtempSync(join(tmpdir(), 'berth-httpget-'));
afterAll(() => {
  for (const server of servers) server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function listen(server: Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

describe('httpGet', () => {
  it('sends the Host header it is given', async () => {
    const port = await listen(createHttpServer((req, res) => res.end(`host=${req.headers.host}`)));
    expect(await httpGet(`http://127.0.0.1:${port}/x`, 'a.test')).toEqual({ status: 200, body: 'host=a.test' });
  });

  it('over TLS, names the host by SNI too and takes a certificate nobody trusts', async () => {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=a.test',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      {
        stdio: 'ignore',
      },
    );
    const server = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (req, res) =>
      res.end(`sni=${(req.socket as TLSSocket).servername} host=${req.headers.host}`),
    );
    const port = await listen(server as unknown as Server);
    expect(await httpGet(`https://127.0.0.1:${port}/`, 'a.test')).toEqual({ status: 200, body: 'sni=a.test host=a.test' });
  });

  it('answers status 0 when nothing listens', async () => {
    const port = await listen(createHttpServer(() => undefined));
    servers.pop()?.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await httpGet(`http://127.0.0.1:${port}/`, undefined, 1_000)).status).toBe(0);
  });
});
