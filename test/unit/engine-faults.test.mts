import { describe, expect, it } from 'vitest';
import { CommandError } from '../../lib/core/errors.mts';
import { engineFault } from '../../lib/engine/faults.mts';

const failed = (stderr: string) => new CommandError('docker pull --quiet r/web:big', 1, stderr);

describe('engineFault', () => {
  it('names a full disk from the daemon words, whatever file it was writing', () => {
    expect(engineFault(failed('write /var/lib/docker/tmp/GetImageBlob1455302263: no space left on device\n'))).toEqual({
      kind: 'disk-full',
      reason: 'no space left on device',
    });
  });

  it('names an engine that went away: the CLI prints only "unexpected EOF" then, or cannot connect', () => {
    expect(engineFault(failed('unexpected EOF\n'))).toEqual({ kind: 'engine-gone', reason: 'unexpected EOF' });
    expect(
      engineFault(failed('Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?')),
    ).toMatchObject({ kind: 'engine-gone' });
  });

  it('names a registry that stopped answering, without its URL', () => {
    const stderr = 'Get "http://127.0.0.1:41791/v2/x/blobs/sha256:ab": dial tcp 127.0.0.1:41791: connect: connection refused\n';
    expect(engineFault(failed(stderr))).toEqual({ kind: 'registry-gone', reason: 'connection refused' });
    // The daemon's own read of a blob cut short is the registry's side, not the engine's.
    expect(engineFault(failed('error pulling image configuration: unexpected EOF'))).toMatchObject({ kind: 'registry-gone' });
  });

  it('leaves every other failure alone', () => {
    expect(engineFault(failed('manifest for r/web:big not found: manifest unknown'))).toBeUndefined();
    expect(engineFault(new Error('no space left on device'))).toBeUndefined();
  });
});
