// Product and edge files in a directory outside the checkout, loaded the way berth loads them on a
// VM: in a plain Node process (vitest's own module runner resolves imports itself, so it would
// test vitest, not berth). Each case writes a products dir under the system temp dir, where no
// node_modules and no relative path lead back to berth.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BERTH_ROOT } from '../../lib/config/load.mts';
import { findProductLogic } from '../../lib/dev/product-lint.mts';

const LOAD_URL = new URL('../../lib/config/load.mts', import.meta.url).href;

// Prints what loadProduct (or loadEdge) made of the file, or berth's one error line.
const DRIVER = `
import { loadEdge, loadProduct, loadSettings } from '${LOAD_URL}';
const settings = loadSettings();
try {
  const name = process.env.LOAD;
  const loaded = name === 'edge' ? await loadEdge(settings) : await loadProduct(name, settings);
  console.log(JSON.stringify({ loaded }));
} catch (error) {
  console.log(JSON.stringify({ error: error.line ?? String(error), exitCode: error.exitCode }));
}
`;

interface Outcome {
  loaded?: { name?: string; services?: Record<string, { repository: string }>; project?: string; network?: string };
  error?: string;
  exitCode?: number;
}

let root: string;
let productsDir: string;
let repoDir: string;

function load(name: string, env: Record<string, string> = {}): Outcome {
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', DRIVER], {
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      BERTH_ENV_FILE: join(root, 'absent.env'),
      BERTH_PRODUCTS_DIR: productsDir,
      BERTH_STATE_DIR: join(root, 'state'),
      BERTH_REGISTRY: 'registry.test:5000',
      BERTH_WORKSPACE: join(root, 'workspace'),
      LOAD: name,
      ...env,
    },
  });
  expect(result.status, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as Outcome;
}

function product(name: string, source: string): string {
  const file = join(productsDir, `${name}.mts`);
  writeFileSync(file, source);
  return file;
}

const body = (name: string, services = `{ web: { kind: 'http' } }`) =>
  `{ name: '${name}', repo: '${repoDir}', composeFiles: ['compose.yaml'], services: ${services} }`;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'berth-unit-imports-'));
  productsDir = join(root, 'etc', 'berth', 'products');
  repoDir = join(root, 'repo');
  mkdirSync(productsDir, { recursive: true });
  mkdirSync(repoDir);
  writeFileSync(join(repoDir, 'compose.yaml'), 'services: {}\n');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('a product file outside the checkout', () => {
  it('lives where nothing leads back to berth', () => {
    expect(productsDir.startsWith(BERTH_ROOT)).toBe(false);
    expect(BERTH_ROOT.startsWith(root)).toBe(false);
  });

  it("loads with import { defineProduct } from 'berth', and from 'berth/define'", () => {
    product('acme', `import { defineProduct } from 'berth';\n\nexport default defineProduct(${body('acme')});\n`);
    product('bravo', `import { defineProduct } from 'berth/define';\nexport default defineProduct(${body('bravo')});\n`);
    expect(load('acme').loaded?.services?.web?.repository).toBe('registry.test:5000/acme-web');
    expect(load('bravo').loaded?.name).toBe('bravo');
  });

  it('loads plain data with no import, and validates it the same', () => {
    product('plain', `export default ${body('plain', `{ web: { kind: 'http', image: 'shop/front' } }`)};\n`);
    expect(load('plain').loaded?.services?.web?.repository).toBe('registry.test:5000/shop/front');
    const file = product('plainbad', `export default ${body('plainbad', `{ web: { kind: 'database' } }`)};\n`);
    expect(load('plainbad')).toEqual({
      error: `${file} is invalid: services.web.kind: expected one of http, worker, stateful, proxy: fix that field and rerun`,
      exitCode: 2,
    });
  });

  it('loads a shipped product file copied out of the checkout', () => {
    copyFileSync(join(BERTH_ROOT, 'products', 'clock.mts'), join(productsDir, 'clock.mts'));
    // Loaded and validated: what stops it is only that its repo is not on this machine.
    expect(load('clock').error).toMatch(/clock\.mts is invalid: .*repo: .*\/workspace\/clock does not exist/);
  });

  it('names an import berth cannot resolve, where it looked, and the stable name to use', () => {
    const file = product(
      'relative',
      `import { defineProduct } from '../lib/config/define.mts';\nexport default defineProduct(${body('relative')});\n`,
    );
    expect(load('relative')).toEqual({
      error:
        `${file} imports '../lib/config/define.mts', which berth cannot resolve (expected ${join(root, 'etc', 'berth', 'lib', 'config', 'define.mts')}): ` +
        `import { defineProduct } from 'berth' instead; berth resolves that name wherever the file lives`,
      exitCode: 2,
    });
  });

  it('names a package import berth cannot resolve, and says a product file imports nothing else', () => {
    const file = product(
      'pkg',
      `import { defineProduct } from 'berth';\nimport { x } from 'berth-extras/x';\nexport default defineProduct(${body('pkg')});\n`,
    );
    expect(load('pkg').error).toBe(
      `${file} imports 'berth-extras/x', which berth cannot resolve (expected ${join(productsDir, 'node_modules', 'berth-extras')} or a node_modules above it): ` +
        `drop that import; a product file is data, and imports at most { defineProduct } from 'berth'`,
    );
  });

  it('names a misspelt import as a missing export, not as syntax', () => {
    const file = product('typo', `import { defineProdct } from 'berth';\nexport default defineProdct(${body('typo')});\n`);
    expect(load('typo').error).toBe(
      `${file} imports 'defineProdct' from 'berth', which has no such export: import { defineProduct } from 'berth'`,
    );
  });

  it('says syntax, with the line, only for a real syntax error', () => {
    const file = product('broken', `import { defineProduct } from 'berth';\n\nexport default defineProduct({ name: 'broken',, });\n`);
    const { error, exitCode } = load('broken');
    expect(error).toMatch(
      new RegExp(`^${file.replace(/[.]/g, '\\.')} cannot be loaded \\(line 3: .+\\): fix the syntax of the product file$`),
    );
    expect(exitCode).toBe(2);
  });

  it('reports code that fails while loading as such', () => {
    const file = product('code', `export default { name: 'code', repo: missingValue };\n`);
    expect(load('code').error).toBe(
      `${file} cannot be loaded (ReferenceError: missingValue is not defined): a product file holds data only: fix or remove the code that failed`,
    );
  });
});

describe('an edge file outside the checkout', () => {
  it("loads with import { defineEdge } from 'berth'", () => {
    product(
      'edge',
      `import { defineEdge } from 'berth';\nexport default defineEdge({ project: 'front', service: 'caddy', network: 'edge', mountedAt: '/etc/caddy/sites' });\n`,
    );
    expect(load('edge').loaded).toMatchObject({ project: 'front', service: 'caddy', network: 'edge' });
  });

  it('names an unresolvable import with defineEdge as the fix', () => {
    const file = product(
      'edge',
      `import { defineEdge } from '../lib/config/define.mts';\nexport default defineEdge({ project: 'front', service: 'caddy', network: 'edge', mountedAt: '/s' });\n`,
    );
    expect(load('edge').error).toMatch(
      new RegExp(
        `^${file.replace(/[.]/g, '\\.')} imports '\\.\\./lib/config/define\\.mts', which berth cannot resolve .*: import \\{ defineEdge \\} from 'berth' instead`,
      ),
    );
  });
});

describe('the drift guard on the stable name', () => {
  const data = `{ name: 'p', repo: 'p', composeFiles: ['compose.yaml'], services: { web: { kind: 'http' } } }`;

  it("accepts import { defineProduct } from 'berth' and plain data with no import", () => {
    expect(findProductLogic(`import { defineProduct } from 'berth';\nexport default defineProduct(${data});\n`)).toEqual([]);
    expect(
      findProductLogic(
        `import { defineEdge } from 'berth/define';\nexport default defineEdge({ project: 'p' });\n`,
        'edge.mts',
        'defineEdge',
      ),
    ).toEqual([]);
    expect(findProductLogic(`// a comment\nexport default ${data};\n`)).toEqual([]);
    expect(findProductLogic(`export default ${data} as const;\n`)).toEqual([]);
  });

  it('holds plain data to data only, and still takes no other import', () => {
    expect(findProductLogic(`export default { name: process.env.NAME };\n`)).toEqual(['line 1: reads process: process.env.NAME']);
    expect(findProductLogic(`import { defineProduct } from 'berth-extras';\nexport default defineProduct(${data});\n`)[0]).toMatch(
      /^line 1: imports from 'berth-extras' \(only \{ defineProduct \} or, in edge\.mts, \{ defineEdge \} from 'berth' is allowed\)/,
    );
  });
});
