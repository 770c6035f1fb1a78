// The folders of lib/ are layers and imports point down. This test reads every import in lib/ and
// scripts/ and fails on one that points up, on production code importing dev/, and on a module
// other than the runner spawning or the UI module styling.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Lowest first: a module may import its own layer and any layer before it. */
export const LAYERS = [
  'core',
  'commands',
  'config',
  'engine',
  'registry',
  'releases',
  'build',
  'deploy',
  'report',
  'ops',
  'entries',
  'dev',
];

/** Entries that exist for development only (demo, benches, generators) and may load dev/. */
const DEV_SCRIPTS = /^scripts\/(demo|bench|shims|drift)(\.mts|\/)/;

function walk(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return walk(path);
    return entry.name.endsWith('.mts') ? [path] : [];
  });
}

interface Import {
  file: string;
  target: string;
  line: number;
  /** What is imported: `{ a, type B }`, `x`, or '' for a dynamic import. */
  clause: string;
}

/** Static imports, re-exports and literal dynamic imports, resolved to paths from the root. */
export function importsOf(file: string, text: string): Import[] {
  const found: Import[] = [];
  const pattern = /(?:^|\n)\s*(?:import|export)\b([^'"`]*?)from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (const match of text.matchAll(pattern)) {
    const spec = match[2] ?? match[3] ?? '';
    const line = text.slice(0, match.index).split('\n').length + (match[0].startsWith('\n') ? 1 : 0);
    const target = spec.startsWith('.') ? relative(root, resolve(root, dirname(file), spec)) : spec;
    // Import lines inside generated text (the shim generator's templates) resolve to nothing real.
    if (spec.startsWith('.') && existsSync(join(root, file)) && !existsSync(join(root, target))) continue;
    found.push({ file, target, line, clause: (match[1] ?? '').trim() });
  }
  return found;
}

export function layerOf(path: string): string | undefined {
  const match = /^lib\/([^/]+)\//.exec(path);
  return match && LAYERS.includes(match[1] as string) ? match[1] : undefined;
}

/** Every rule broken by one import, as `file:line: why` lines. */
export function violations(imports: Import[]): string[] {
  const out: string[] = [];
  for (const { file, target, line, clause } of imports) {
    const at = `${file}:${line}`;
    const from = layerOf(file);
    const to = layerOf(target);
    if (target.startsWith('lib/') && !to) out.push(`${at}: ${target} is not in a layer folder`);
    if (from && to && to !== 'dev' && LAYERS.indexOf(to) > LAYERS.indexOf(from))
      out.push(`${at}: ${from}/ imports ${target}, a layer above it`);
    const production = from ? from !== 'dev' : file.startsWith('scripts/') && !DEV_SCRIPTS.test(file);
    if (production && to === 'dev') out.push(`${at}: production code imports ${target} (dev/ never runs on a VM)`);
    if (production && target.startsWith('test/')) out.push(`${at}: production code imports ${target}`);
    if (target === 'zx' && file !== 'lib/core/runner.mts' && /[{,]\s*\$\s*[,}]/.test(clause)) {
      out.push(`${at}: imports $ from zx; only lib/core/runner.mts spawns`);
    }
    if ((target === 'ora' || target === 'chalk') && file !== 'lib/core/ui.mts')
      out.push(`${at}: imports ${target}; only lib/core/ui.mts owns the terminal`);
    if (target === 'node:child_process' && from !== 'dev' && file !== 'lib/core/runner.mts') out.push(`${at}: spawns outside the runner`);
  }
  return out;
}

const sources = [...walk('lib'), ...walk('scripts')];

describe('layers', () => {
  it('every lib file sits in a layer folder', () => {
    const loose = walk('lib').filter((file) => !layerOf(file));
    expect(loose).toEqual([]);
  });

  it('imports point down, production never loads dev/, one spawner, one terminal owner', () => {
    const imports = sources.flatMap((file) => importsOf(file, readFileSync(join(root, file), 'utf8')));
    expect(violations(imports)).toEqual([]);
  });

  it('catches an import that points up and production code that loads dev/', () => {
    const imports = [
      ...importsOf('lib/engine/x.mts', "import { a } from '../deploy/context.mts';"),
      ...importsOf('lib/deploy/y.mts', "import { b } from '../dev/demo.mts';\nimport { $ } from 'zx';"),
      ...importsOf('scripts/deploy.mts', "const m = await import('../lib/dev/drift.mts');"),
      ...importsOf('scripts/demo.mts', "import { c } from '../lib/dev/demo.mts';"),
      ...importsOf('lib/ops/z.mts', "import chalk from 'chalk';"),
    ];
    expect(violations(imports)).toEqual([
      'lib/engine/x.mts:1: engine/ imports lib/deploy/context.mts, a layer above it',
      'lib/deploy/y.mts:1: production code imports lib/dev/demo.mts (dev/ never runs on a VM)',
      'lib/deploy/y.mts:2: imports $ from zx; only lib/core/runner.mts spawns',
      'scripts/deploy.mts:1: production code imports lib/dev/drift.mts (dev/ never runs on a VM)',
      'lib/ops/z.mts:1: imports chalk; only lib/core/ui.mts owns the terminal',
    ]);
  });
});
