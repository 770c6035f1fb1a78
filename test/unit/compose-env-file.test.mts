// The product's .env as berth writes it for a hand-run compose: berth's block last, rewritten
// whole; every operator line kept; the same input twice gives the same file.
import { lstatSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BLOCK_BEGIN,
  BLOCK_END,
  composeEnvValues,
  envValue,
  renderComposeEnvFile,
  writeComposeEnvFile,
  envFileIsBerths,
  leftOnOtherTags,
} from '../../lib/deploy/compose-env-file.mts';

const product = { projectName: 'shop', composeFiles: ['docker-compose.yml', 'docker-compose.prod.yml'] };
const env = (tag: string) => ({ IMAGE_TAG: tag, REGISTRY: 'reg.internal:5000', BERTH_UPSTREAMS: '/var/lib/berth/shop/upstreams' });
const block = (tag: string) =>
  [
    BLOCK_BEGIN,
    'COMPOSE_PROJECT_NAME=shop',
    'COMPOSE_FILE=docker-compose.yml:docker-compose.prod.yml',
    `IMAGE_TAG=${tag}`,
    'REGISTRY=reg.internal:5000',
    'BERTH_UPSTREAMS=/var/lib/berth/shop/upstreams',
    BLOCK_END,
  ].join('\n');

describe('the .env renderer', () => {
  it('writes only the project, its files and the release variables, whatever else the environment holds', () => {
    expect(composeEnvValues(product, { ...env('abc'), GITEA_NPM_TOKEN: 'secret', PATH: '/bin' }).map(([k]) => k)).toEqual([
      'COMPOSE_PROJECT_NAME',
      'COMPOSE_FILE',
      'IMAGE_TAG',
      'REGISTRY',
      'BERTH_UPSTREAMS',
    ]);
  });

  it('creates the file with the block alone', () => {
    expect(renderComposeEnvFile(undefined, composeEnvValues(product, env('v1'))).text).toBe(`${block('v1')}\n`);
  });

  it("keeps every operator line byte for byte, replaces berth's block, and is idempotent", () => {
    const operator = '# secrets for the api\nDB_PASSWORD=p@ss word # not a comment?\n\nexport FEATURE_X=on\nNO_NEWLINE_AT_END=1';
    const first = renderComposeEnvFile(operator, composeEnvValues(product, env('v1'))).text;
    expect(first).toBe(`${operator}\n${block('v1')}\n`);
    const second = renderComposeEnvFile(first, composeEnvValues(product, env('v2'))).text;
    expect(second).toBe(`${operator}\n${block('v2')}\n`);
    expect(renderComposeEnvFile(second, composeEnvValues(product, env('v2'))).text).toBe(second);
  });

  it('moves the block last when the operator added lines after it, keeping them', () => {
    const text = `A=1\n${block('v1')}\nB=2\n`;
    expect(renderComposeEnvFile(text, composeEnvValues(product, env('v2'))).text).toBe(`A=1\nB=2\n${block('v2')}\n`);
  });

  it('keeps a line an operator put inside the block, and survives a deleted end marker', () => {
    const inside = block('v1').replace('REGISTRY=', 'MINE=1\nREGISTRY=');
    expect(renderComposeEnvFile(`${inside}\n`, composeEnvValues(product, env('v2'))).text).toBe(`MINE=1\n${block('v2')}\n`);
    const unclosed = `${block('v1').replace(`\n${BLOCK_END}`, '')}\nAFTER=1\n`;
    expect(renderComposeEnvFile(unclosed, composeEnvValues(product, env('v2'))).text).toBe(`AFTER=1\n${block('v2')}\n`);
  });

  it("names operator lines that set one of berth's keys (the block, last, wins in both flavours)", () => {
    const rendered = renderComposeEnvFile('IMAGE_TAG=pinned\nexport REGISTRY=old\nOTHER=1\n', composeEnvValues(product, env('v1')));
    expect(rendered.shadowed).toEqual(['IMAGE_TAG', 'REGISTRY']);
    expect(rendered.text.startsWith('IMAGE_TAG=pinned\nexport REGISTRY=old\nOTHER=1\n')).toBe(true);
  });

  it('quotes what a dotenv reader would change, and refuses what it cannot hold', () => {
    expect(envValue('X', '/srv/a b/upstreams')).toBe("'/srv/a b/upstreams'");
    expect(envValue('X', 'a$b#c')).toBe("'a$b#c'");
    expect(envValue('X', 'reg:5000/team')).toBe('reg:5000/team');
    expect(() => envValue('X', "it's")).toThrow(/cannot be written to a .env file/);
    expect(() => composeEnvValues({ projectName: 'p', composeFiles: ['a:b.yml'] }, {})).toThrow(/COMPOSE_FILE/);
  });
});

describe('writeComposeEnvFile', () => {
  it("writes atomically, keeps the file's mode, and follows a symlinked .env", () => {
    const repoDir = mkdtempSync(join(tmpdir(), 'berth-unit-env-'));
    const target = join(repoDir, 'shared.env');
    writeFileSync(target, 'TOKEN=t\n', { mode: 0o640 });
    symlinkSync('shared.env', join(repoDir, '.env'));
    const written = writeComposeEnvFile({ ...product, repoDir, stateDir: join(repoDir, 'state') }, env('v3'));
    expect(written).toMatchObject({ file: target, changed: true, shadowed: [] });
    expect(lstatSync(join(repoDir, '.env')).isSymbolicLink()).toBe(true);
    expect(readFileSync(target, 'utf8')).toBe(`TOKEN=t\n${block('v3')}\n`);
    expect(statSync(target).mode & 0o777).toBe(0o640);
    expect(writeComposeEnvFile({ ...product, repoDir, stateDir: join(repoDir, 'state') }, env('v3')).changed).toBe(false);
  });

  it('creates a missing .env readable by the operator who runs compose', () => {
    const repoDir = mkdtempSync(join(tmpdir(), 'berth-unit-env-'));
    writeComposeEnvFile({ ...product, repoDir, stateDir: join(repoDir, 'state') }, env('v1'));
    expect(statSync(join(repoDir, '.env')).mode & 0o777).toBe(0o644);
    expect(readFileSync(join(repoDir, '.env'), 'utf8')).toBe(`${block('v1')}\n`);
  });

  it("remembers what it wrote, so change detection does not count berth's own write; an operator's edit counts", () => {
    const repoDir = mkdtempSync(join(tmpdir(), 'berth-unit-env-'));
    const where = { ...product, repoDir, stateDir: join(repoDir, 'state') };
    expect(envFileIsBerths(where)).toBe(false);
    writeComposeEnvFile(where, env('v1'));
    expect(envFileIsBerths(where)).toBe(true);
    writeFileSync(join(repoDir, '.env'), `DEBUG=1\n${readFileSync(join(repoDir, '.env'), 'utf8')}`);
    expect(envFileIsBerths(where)).toBe(false);
    writeComposeEnvFile(where, env('v2'));
    expect(envFileIsBerths(where)).toBe(true);
  });
});

describe('a --only deploy and the one IMAGE_TAG of .env', () => {
  const services = {
    proxy: { name: 'proxy', kind: 'proxy' },
    web: { name: 'web', kind: 'http' },
    worker: { name: 'worker', kind: 'worker' },
    api: { name: 'api', kind: 'http' },
  } as unknown as Parameters<typeof leftOnOtherTags>[0]['services'];
  const running = {
    proxy: { image: 'reg.internal:5000/caddy:2' },
    web: { image: 'reg.internal:5000/shop-web:v3' },
    worker: { image: 'reg.internal:5000/shop-worker:v2' },
    api: { image: 'reg.internal:5000/shop-api:v3' },
  };

  it("names the product's own services left on another tag, which a hand-run compose up would move", () => {
    expect(leftOnOtherTags({ services }, running, 'v3', ['web'])).toEqual([{ service: 'worker', tag: 'v2' }]);
  });

  it('names nothing for a whole deploy, and never the proxy or a service pinned by digest', () => {
    expect(leftOnOtherTags({ services }, running, 'v3', undefined)).toEqual([]);
    expect(leftOnOtherTags({ services }, { ...running, worker: { image: 'reg/shop-worker@sha256:ab' } }, 'v3', ['web'])).toEqual([]);
  });
});
