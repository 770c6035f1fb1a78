// Compose v1's own config hash of a service, from its config dump with the image id left out:
// what a berth-started replica is labelled with on v1, so a hand-run `docker-compose up -d` keeps it.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { composeV1ConfigDicts, parseV1ConfigDicts, V1_IMAGE_PLACEHOLDER, v1ConfigHash } from '../../lib/commands/compose.mts';
import { composeV1Python } from '../../lib/engine/compose.mts';

const dump = `{"image_id":${JSON.stringify(V1_IMAGE_PLACEHOLDER)},"links":[],"options":{"image":"reg/web:v2","restart":{"MaximumRetryCount":0,"Name":"unless-stopped"}}}`;

describe("Compose v1's config hash", () => {
  it('asks v1 for the services of the project, by directory, name and files', () => {
    const argv = composeV1ConfigDicts(
      '/usr/bin/python3',
      { name: 'shop', directory: '/srv/shop', files: ['/srv/shop/a.yml', '/srv/shop/b.yml'] },
      ['web', 'api'],
    );
    expect(argv.slice(0, 2)).toEqual(['/usr/bin/python3', '-c']);
    expect(argv.slice(3)).toEqual(['/srv/shop', 'shop', V1_IMAGE_PLACEHOLDER, '/srv/shop/a.yml', '/srv/shop/b.yml', '--', 'web', 'api']);
    expect(argv[2]).toContain('config_dict()');
  });

  it('reads one dump a service, and nothing else v1 printed', () => {
    const stdout = `WARNING: something\nweb ${dump}\napi {"not":"ours"}\n\n`;
    expect(parseV1ConfigDicts(stdout)).toEqual({ web: dump });
  });

  it("is Compose's json_hash of the dump with the image id in place (value from compose.utils.json_hash, 1.29.2)", () => {
    expect(v1ConfigHash(dump, 'sha256:abc')).toBe('daa663eb56621b804b445c96b1a5def42d930e05e16bb844a3ed78dd2843f9b4');
  });

  it("finds v1's Python from its script's #! line, and none for a v1 that is one binary", () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-unit-v1-'));
    const python = process.execPath;
    writeFileSync(join(dir, 'docker-compose'), `#!${python.replace(/node$/, 'python3')}\nimport re\n`);
    expect(composeV1Python(dir)).toBeUndefined();
    writeFileSync(join(dir, 'docker-compose'), `#!${process.execPath}\n`);
    expect(composeV1Python(dir)).toBeUndefined();
    writeFileSync(join(dir, 'python3.11'), '');
    writeFileSync(join(dir, 'docker-compose'), `#!${join(dir, 'python3.11')}\nimport re\n`);
    expect(composeV1Python(dir)).toBe(join(dir, 'python3.11'));
    writeFileSync(join(dir, 'docker-compose'), '\x7fELF\x02\x01\x01');
    expect(composeV1Python(dir)).toBeUndefined();
  });
});
