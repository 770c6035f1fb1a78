// A registry that wants credentials, like the Gitea/GHCR registries products push to: the
// distribution registry with its `silly` access controller sends Bearer challenges pointing at a
// token endpoint served here, and only that endpoint checks the user and token. So `docker login`,
// push, pull and berth's own manifest requests all go through a real token flow on 127.0.0.1.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findExecutable, spawnDetached } from '../../lib/dev/daemon.mts';
import { freePort } from '../../lib/dev/local-registry.mts';

export interface AuthRegistry {
  address: string;
  username: string;
  token: string;
  /** Token requests that carried the right credentials, and ones that did not. */
  grants: { accepted: number; refused: number };
  stop(): Promise<void>;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : 0);
    });
  });
}

export async function startAuthRegistry(credentials: { username: string; token: string }): Promise<AuthRegistry> {
  const binary = await findExecutable('docker-registry');
  if (!binary) throw new Error('the auth registry needs docker-registry (apt-get install docker-registry)');
  const expected = `Basic ${Buffer.from(`${credentials.username}:${credentials.token}`).toString('base64')}`;
  const grants = { accepted: 0, refused: 0 };
  const tokenServer = createServer((request, response) => {
    if (request.headers.authorization !== expected) {
      grants.refused++;
      response.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="berth-test"' });
      response.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    grants.accepted++;
    const token = randomBytes(16).toString('hex');
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ token, access_token: token, expires_in: 300 }));
  });
  const tokenPort = await listen(tokenServer);
  const closeTokens = () => new Promise<void>((resolve) => tokenServer.close(() => resolve()));

  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const dir = await mkdtemp(join(tmpdir(), 'berth-auth-registry-'));
  const config = join(dir, 'config.yml');
  const logFile = join(dir, 'registry.log');
  await writeFile(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: warn',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'data')}`,
      '  delete:',
      '    enabled: true',
      'auth:',
      '  silly:',
      `    realm: http://127.0.0.1:${tokenPort}/token`,
      '    service: berth-test',
      'http:',
      `  addr: ${address}`,
      '',
    ].join('\n'),
  );
  const daemon = spawnDetached([binary, 'serve', config], { logFile });
  const stop = async () => {
    await daemon.stop();
    await closeTokens();
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    // Without credentials /v2/ must answer 401: that is the registry up and asking for auth.
    const status = await fetch(`http://${address}/v2/`, { signal: AbortSignal.timeout(1_000) })
      .then(async (r) => (await r.body?.cancel(), r.status))
      .catch(() => 0);
    if (status === 401) break;
    if (Date.now() > deadline || !daemon.running()) {
      const log = await readFile(logFile, 'utf8').catch(() => '');
      await stop();
      throw new Error(`the auth registry did not come up on ${address}: ${log.trim().split('\n').slice(-5).join(' | ')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { address, ...credentials, grants, stop };
}
