import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { cachedText, moduleCacheDir, stampOf } from '../../lib/core/module-cache.mts';

const CACHE_MODULE = pathToFileURL(join(import.meta.dirname, '../../lib/core/module-cache.mts')).href;

describe('the cache of stripped modules', () => {
  const dirs: string[] = [];
  const scratch = () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-mc-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => dirs.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it('lives in the cache directory unless told otherwise', () => {
    expect(moduleCacheDir({ HOME: '/h' })).toMatch(/\/berth\/modules$/);
    expect(moduleCacheDir({ XDG_CACHE_HOME: '/c' })).toBe('/c/berth/modules');
    expect(moduleCacheDir({ BERTH_MODULE_CACHE: '/x' })).toBe('/x');
  });

  it('stamps the text with its source and node, and serves only a matching stamp', () => {
    const dir = scratch();
    const stamp = stampOf('const a: number = 1;', 'v22.0.0');
    expect(stamp).not.toBe(stampOf('const a: number = 2;', 'v22.0.0'));
    expect(stamp).not.toBe(stampOf('const a: number = 1;', 'v22.1.0'));
    writeFileSync(join(dir, 'm.mjs'), `const a = 1;${stamp}`);
    expect(cachedText(join(dir, 'm.mjs'), stamp)).toBe(`const a = 1;${stamp}`);
    expect(cachedText(join(dir, 'm.mjs'), stampOf('other', 'v22.0.0'))).toBeUndefined();
    expect(cachedText(join(dir, 'missing.mjs'), stamp)).toBeUndefined();
  });

  it('loads modules through it in a real node: one file per module, replaced when the source changes, lines kept', () => {
    const dir = scratch();
    const cache = join(dir, 'cache');
    writeFileSync(
      join(dir, 'lib.mts'),
      "interface Shape {\n  n: number;\n}\nexport const shape: Shape = { n: 1 };\nexport function fail(): never {\n  throw new Error('from line 6');\n}\n",
    );
    writeFileSync(
      join(dir, 'entry.mts'),
      `import { cacheStrippedModules } from '${CACHE_MODULE}';\ncacheStrippedModules();\nconst lib = await import('./lib.mts');\ntry { lib.fail(); } catch (e) { console.log(lib.shape.n, /lib\\.mts:(\\d+)/.exec((e as Error).stack ?? '')?.[1]); }\n`,
    );
    const run = () =>
      execFileSync(process.execPath, [join(dir, 'entry.mts')], {
        env: { ...process.env, BERTH_MODULE_CACHE: cache },
        encoding: 'utf8',
      }).trim();
    expect(run()).toBe('1 6');
    // Nothing on stderr about the experimental API node strips with.
    const stderr = spawnSync(process.execPath, [join(dir, 'entry.mts')], {
      env: { ...process.env, BERTH_MODULE_CACHE: join(dir, 'other') },
      encoding: 'utf8',
    }).stderr;
    expect(stderr).toBe('');
    const files = readdirSync(cache);
    expect(files).toHaveLength(1);
    const first = readFileSync(join(cache, files[0] as string), 'utf8');
    expect(first).toContain('export const shape');
    expect(first).not.toContain('interface Shape');
    // Served from the cache: the same file, untouched.
    expect(run()).toBe('1 6');
    expect(readFileSync(join(cache, files[0] as string), 'utf8')).toBe(first);
    // A changed source strips again into the same file.
    writeFileSync(join(dir, 'lib.mts'), readFileSync(join(dir, 'lib.mts'), 'utf8').replace('n: 1', 'n: 2'));
    expect(run()).toBe('2 6');
    expect(readdirSync(cache)).toEqual(files);
  });
});
