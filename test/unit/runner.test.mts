// Which Engine API socket the runner reads from: only the one the docker CLI would talk to.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { demuxStream, engineSocket, plainDockerExec } from '../../lib/core/engine-socket.mts';
import { createRunner } from '../../lib/core/runner.mts';

describe('engine socket', () => {
  const noConfig = mkdtempSync(join(tmpdir(), 'berth-dockercfg-'));

  it('follows DOCKER_HOST for unix sockets and leaves tcp hosts and contexts to the CLI', () => {
    expect(engineSocket({}, noConfig)).toBe('/var/run/docker.sock');
    expect(engineSocket({ DOCKER_HOST: 'unix:///run/user/1000/docker.sock' }, noConfig)).toBe('/run/user/1000/docker.sock');
    expect(engineSocket({ DOCKER_HOST: 'tcp://10.0.0.5:2376' }, noConfig)).toBeUndefined();
    expect(engineSocket({ DOCKER_HOST: 'ssh://vm' }, noConfig)).toBeUndefined();
    expect(engineSocket({ DOCKER_CONTEXT: 'remote' }, noConfig)).toBeUndefined();
    expect(engineSocket({ DOCKER_CONTEXT: 'default' }, noConfig)).toBe('/var/run/docker.sock');
  });

  it("respects the CLI's current context", () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-dockercfg-'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ currentContext: 'vm' }));
    expect(engineSocket({}, dir)).toBeUndefined();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: {} }));
    expect(engineSocket({}, dir)).toBe('/var/run/docker.sock');
  });

  it('answers undefined, so callers use the CLI, when the socket is not there', async () => {
    const runner = createRunner({ env: { DOCKER_HOST: `unix://${join(noConfig, 'no.sock')}` } });
    expect(await runner.engine?.('/containers/json')).toBeUndefined();
  });
});

describe('docker exec through the engine', () => {
  it('takes only a plain `docker exec CONTAINER CMD...`; anything with options stays with the CLI', () => {
    expect(plainDockerExec(['docker', 'exec', 'px', 'caddy', 'reload'])).toEqual({ container: 'px', cmd: ['caddy', 'reload'] });
    expect(plainDockerExec(['docker', 'exec', '-i', 'px', 'sh'])).toBeUndefined();
    expect(plainDockerExec(['docker', 'exec', 'px'])).toBeUndefined();
    expect(plainDockerExec(['docker', 'run', 'px', 'x'])).toBeUndefined();
  });

  it("splits Docker's multiplexed stream into stdout and stderr", () => {
    const frame = (kind: number, text: string) => {
      const payload = Buffer.from(text);
      const header = Buffer.alloc(8);
      header[0] = kind;
      header.writeUInt32BE(payload.length, 4);
      return Buffer.concat([header, payload]);
    };
    const data = Buffer.concat([frame(1, 'out '), frame(2, 'err\n'), frame(1, 'more\n')]);
    expect(demuxStream(data)).toEqual({ stdout: 'out more\n', stderr: 'err\n' });
    // A header cut off at the end is left out rather than misread.
    expect(demuxStream(Buffer.concat([frame(1, 'ok'), Buffer.from([1, 0, 0])]))).toEqual({ stdout: 'ok', stderr: '' });
  });
});
