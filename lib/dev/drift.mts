// The drift guard's judgement, on in-memory trees: do the generated shims, entry scripts and root
// symlinks match what lib/dev/shims.mts would write, and is every product file plain data?
// scripts/drift.mts reads the disk and prints; everything here is pure so tests need no files.
// The TypeScript parser (a devDependency) reads product files: the guard runs in CI and on
// developer machines, never on the VM.
import ts from 'typescript';
import { checkProductNames, generateShims, planShimChanges, productOfPath, REGENERATE, type ShimChange, type ShimTree } from './shims.mts';

export interface DriftInput {
  /** product name -> source of products/<name>.mts */
  products: ReadonlyMap<string, string>;
  /** every generated-looking path found on disk (see isGeneratedPath), with what is there */
  files: ShimTree;
}

export interface DriftProblem {
  path: string;
  message: string;
  /** diff or findings, one line each */
  details: string[];
  /** 'regenerate' is fixed by npm run shims; the others need a person first. */
  fix: 'regenerate' | 'move-logic' | 'rename';
}

export interface DriftReport {
  ok: boolean;
  problems: DriftProblem[];
  /** The one thing to do, ending with the command that fixes it; undefined when ok. */
  fix: string | undefined;
}

const DEFINE_MODULE = '../lib/config/define.mts';

// ---------------------------------------------------------------------------------------------
// Product files: a whitelist of syntax, not a blacklist of words, so nothing slips through a
// spelling we did not think of. Data is literals, objects, arrays, and one way to name a path.

function lineOf(node: ts.Node, sf: ts.SourceFile): number {
  return sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
}

function snippet(node: ts.Node, sf: ts.SourceFile): string {
  const text = node.getText(sf).replace(/\s+/g, ' ');
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function isImportMetaUrl(node: ts.Node): boolean {
  return (
    ts.isPropertyAccessExpression(node) &&
    node.name.text === 'url' &&
    ts.isMetaProperty(node.expression) &&
    node.expression.keywordToken === ts.SyntaxKind.ImportKeyword
  );
}

/** `new URL('../dir', import.meta.url).pathname`: the one computed value a product may hold. */
function isLocalPath(node: ts.Node): boolean {
  if (!ts.isPropertyAccessExpression(node) || node.name.text !== 'pathname') return false;
  const created = node.expression;
  return (
    ts.isNewExpression(created) &&
    ts.isIdentifier(created.expression) &&
    created.expression.text === 'URL' &&
    created.arguments?.length === 2 &&
    ts.isStringLiteralLike(created.arguments[0] as ts.Node) &&
    isImportMetaUrl(created.arguments[1] as ts.Node)
  );
}

function describe(node: ts.Node, sf: ts.SourceFile): string {
  if (ts.isCallExpression(node)) return `calls ${snippet(node.expression, sf)}()`;
  if (ts.isNewExpression(node)) return `constructs ${snippet(node.expression, sf)}`;
  if (ts.isArrowFunction(node) || ts.isFunctionExpression(node) || ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node)) return 'defines a function';
  if (ts.isGetAccessor(node) || ts.isSetAccessor(node)) return 'defines an accessor';
  if (ts.isAwaitExpression(node)) return 'awaits';
  if (ts.isIfStatement(node) || ts.isConditionalExpression(node)) return 'branches';
  if (ts.isIterationStatement(node, false)) return 'loops';
  if (ts.isVariableStatement(node)) return `declares ${node.declarationList.declarations.map((d) => snippet(d.name, sf)).join(', ')}`;
  if (ts.isClassDeclaration(node)) return 'declares a class';
  if (ts.isImportDeclaration(node)) return `imports from ${snippet(node.moduleSpecifier, sf)} (only { defineProduct } from '${DEFINE_MODULE}' is allowed)`;
  if (ts.isIdentifier(node) || ts.isShorthandPropertyAssignment(node)) return `refers to ${snippet(node, sf)}`;
  if (ts.isSpreadElement(node) || ts.isSpreadAssignment(node)) return 'spreads a value';
  if (/^process\b/.test(node.getText(sf))) return 'reads process';
  if (ts.isPropertyAccessExpression(node) || ts.isElementAccessExpression(node)) return `reads ${snippet(node, sf)}`;
  if (ts.isTemplateExpression(node)) return 'builds a string';
  if (ts.isBinaryExpression(node) || ts.isPrefixUnaryExpression(node) || ts.isPostfixUnaryExpression(node)) return 'computes a value';
  if (ts.isComputedPropertyName(node)) return 'computes a key';
  if (ts.isExpressionStatement(node)) return describe(node.expression, sf);
  return `has ${ts.SyntaxKind[node.kind]}`;
}

function checkData(node: ts.Node, sf: ts.SourceFile, report: (node: ts.Node) => void): void {
  if (ts.isObjectLiteralExpression(node)) {
    for (const property of node.properties) {
      if (!ts.isPropertyAssignment(property)) report(property);
      else if (ts.isComputedPropertyName(property.name)) report(property.name);
      else checkData(property.initializer, sf, report);
    }
  } else if (ts.isArrayLiteralExpression(node)) {
    for (const element of node.elements) checkData(element, sf, report);
  } else if (ts.isAsExpression(node) && ts.isConstTypeReference(node.type)) {
    checkData(node.expression, sf, report);
  } else if (ts.isPrefixUnaryExpression(node) && node.operator === ts.SyntaxKind.MinusToken && ts.isNumericLiteral(node.operand)) {
    // a negative number is data
  } else if (
    !(
      ts.isStringLiteral(node) ||
      ts.isNoSubstitutionTemplateLiteral(node) ||
      ts.isNumericLiteral(node) ||
      node.kind === ts.SyntaxKind.TrueKeyword ||
      node.kind === ts.SyntaxKind.FalseKeyword ||
      node.kind === ts.SyntaxKind.NullKeyword ||
      isLocalPath(node)
    )
  ) {
    report(node);
  }
}

function isDefineImport(node: ts.ImportDeclaration): boolean {
  const clause = node.importClause;
  const named = clause?.namedBindings;
  return (
    ts.isStringLiteral(node.moduleSpecifier) &&
    node.moduleSpecifier.text === DEFINE_MODULE &&
    clause !== undefined &&
    !clause.isTypeOnly &&
    clause.name === undefined &&
    named !== undefined &&
    ts.isNamedImports(named) &&
    named.elements.length === 1 &&
    named.elements[0]?.name.text === 'defineProduct' &&
    named.elements[0].propertyName === undefined
  );
}

/**
 * Everything in a product file beyond `import { defineProduct } from '../lib/config/define.mts'`,
 * comments, and `export default defineProduct({...data...})`, as `line N: what: code` findings.
 */
export function findProductLogic(source: string, file = 'product.mts'): string[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const findings: string[] = [];
  const report = (node: ts.Node) => findings.push(`line ${lineOf(node, sf)}: ${describe(node, sf)}: ${snippet(node, sf)}`);
  let exported = 0;
  for (const statement of sf.statements) {
    if (ts.isImportDeclaration(statement) && isDefineImport(statement)) continue;
    if (ts.isEmptyStatement(statement)) continue;
    if (ts.isExportAssignment(statement) && !statement.isExportEquals) {
      const call = statement.expression;
      const isDefine = ts.isCallExpression(call) && ts.isIdentifier(call.expression) && call.expression.text === 'defineProduct' && !call.typeArguments;
      const first = isDefine ? call.arguments[0] : undefined;
      const argument = first && ts.isAsExpression(first) && ts.isConstTypeReference(first.type) ? first.expression : first;
      if (!isDefine || call.arguments.length !== 1 || !argument || !ts.isObjectLiteralExpression(argument)) {
        findings.push(`line ${lineOf(statement, sf)}: export default must be defineProduct({ ... }): ${snippet(call, sf)}`);
        continue;
      }
      exported += 1;
      checkData(argument, sf, report);
      continue;
    }
    report(statement);
  }
  if (exported !== 1) findings.push(exported === 0 ? 'has no `export default defineProduct({ ... })`' : 'has more than one export default');
  return findings;
}

// ---------------------------------------------------------------------------------------------
// A unified diff of small files (LCS; shims are a few lines, so quadratic is nothing).

function lines(text: string): string[] {
  const all = text.split('\n').map((line) => line.replace(/\r$/, '\\r'));
  if (all.at(-1) === '') all.pop();
  else all.push('\\ No newline at end of file');
  return all;
}

export function unifiedDiff(path: string, actual: string, expected: string, context = 3): string[] {
  const a = lines(actual);
  const b = lines(expected);
  const common: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      const row = common[i] as number[];
      const next = common[i + 1] as number[];
      row[j] = a[i] === b[j] ? (next[j + 1] as number) + 1 : Math.max(next[j] as number, row[j + 1] as number);
    }
  }
  // ai/bi: 1-based line on each side; for a line absent from a side, the line just before it.
  type Op = { sign: ' ' | '-' | '+'; text: string; ai: number; bi: number };
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      ops.push({ sign: ' ', text: a[i] as string, ai: i + 1, bi: j + 1 });
      i += 1;
      j += 1;
    } else if (i < a.length && (j === b.length || (common[i + 1]?.[j] ?? 0) >= (common[i]?.[j + 1] ?? 0))) {
      ops.push({ sign: '-', text: a[i] as string, ai: i + 1, bi: j });
      i += 1;
    } else {
      ops.push({ sign: '+', text: b[j] as string, ai: i, bi: j + 1 });
      j += 1;
    }
  }

  const out = [`--- ${path} (on disk)`, `+++ ${path} (${REGENERATE})`];
  const changed = ops.map((op, k) => (op.sign === ' ' ? -1 : k)).filter((k) => k >= 0);
  let k = 0;
  while (k < changed.length) {
    const start = Math.max(0, (changed[k] as number) - context);
    let end = Math.min(ops.length, (changed[k] as number) + context + 1);
    while (k + 1 < changed.length && (changed[k + 1] as number) - context <= end) {
      k += 1;
      end = Math.min(ops.length, (changed[k] as number) + context + 1);
    }
    const hunk = ops.slice(start, end);
    const before = hunk.filter((op) => op.sign !== '+').length;
    const after = hunk.filter((op) => op.sign !== '-').length;
    const aStart = hunk.find((op) => op.sign !== '+')?.ai ?? (hunk[0] as Op).ai;
    const bStart = hunk.find((op) => op.sign !== '-')?.bi ?? (hunk[0] as Op).bi;
    out.push(`@@ -${aStart},${before} +${bStart},${after} @@`, ...hunk.map((op) => `${op.sign}${op.text}`));
    k += 1;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

function describeChange(change: ShimChange, input: DriftInput): DriftProblem {
  const { path } = change;
  const product = productOfPath(path);
  if (change.action === 'remove') {
    const message =
      product !== undefined
        ? `${path} has no product: products/${product}.mts does not exist`
        : `${path} is not generated by ${REGENERATE}; only generated files belong there`;
    return { path, message, details: [], fix: 'regenerate' };
  }
  const found = input.files.get(path);
  const { file } = change;
  const what = path.startsWith('shims/') ? 'shim' : path.startsWith('scripts/') ? 'entry script' : 'root command';
  switch (change.reason) {
    case 'missing':
      return {
        path,
        message: product !== undefined && input.products.has(product) ? `products/${product}.mts has no ${what}: ${path} is missing` : `${path} is missing`,
        details: [],
        fix: 'regenerate',
      };
    case 'kind':
      return {
        path,
        message: file.kind === 'symlink' ? `${path} is a regular file, not a symlink to ${file.target}` : `${path} is a symlink, not the generated ${what}`,
        details: [],
        fix: 'regenerate',
      };
    case 'mode':
      return { path, message: `${path} is not executable`, details: [], fix: 'regenerate' };
    case 'content':
      if (file.kind === 'symlink' || found?.kind !== 'file') {
        const target = found?.kind === 'symlink' ? found.target : '?';
        return { path, message: `${path} points to ${target}, not ${file.kind === 'symlink' ? file.target : '?'}`, details: [], fix: 'regenerate' };
      }
      return {
        path,
        message: `${path} differs from what ${REGENERATE} generates (was it edited by hand?)`,
        details: unifiedDiff(path, found.content, file.content),
        fix: 'regenerate',
      };
  }
}

/** All drift at once: stale or missing generated files, hand edits, and product files with logic. */
export function checkDrift(input: DriftInput): DriftReport {
  const names = [...input.products.keys()].sort();
  const problems: DriftProblem[] = [];

  // A name that cannot become a shim is reported, and the rest are still checked.
  const usable: string[] = [];
  for (const name of names) {
    const [message] = checkProductNames([name]);
    if (message) problems.push({ path: `products/${name}.mts`, message, details: [], fix: 'rename' });
    else usable.push(name);
  }

  for (const name of names) {
    const findings = findProductLogic(input.products.get(name) ?? '', `products/${name}.mts`);
    if (findings.length > 0) {
      problems.push({ path: `products/${name}.mts`, message: `products/${name}.mts has logic of its own; a product file is data only`, details: findings, fix: 'move-logic' });
    }
  }

  for (const change of planShimChanges(input.files, generateShims(usable))) problems.push(describeChange(change, input));

  return { ok: problems.length === 0, problems, fix: problems.length === 0 ? undefined : fixFor(problems) };
}

function fixFor(problems: DriftProblem[]): string {
  const paths = (kind: DriftProblem['fix']) => [...new Set(problems.filter((p) => p.fix === kind).map((p) => p.path))].join(', ');
  const steps: string[] = [];
  if (paths('rename')) steps.push(`rename ${paths('rename')}`);
  if (paths('move-logic')) steps.push(`move the logic in ${paths('move-logic')} into lib/ (a product file is data only)`);
  // A rename changes the product list, so it needs the regeneration too; moving logic does not.
  if (paths('regenerate') || paths('rename')) steps.push(REGENERATE);
  return steps.join(', then ');
}

/** The report as the operator reads it; the last line is always the fix. */
export function formatDrift(report: DriftReport): string {
  if (report.ok) return 'drift: none; shims/, scripts/deploy-*.mts and ./deploy-*.sh match the products';
  const out = [`drift: ${report.problems.length} problem${report.problems.length > 1 ? 's' : ''}`];
  for (const problem of report.problems) {
    out.push(`  ${problem.message}`, ...problem.details.map((line) => `    ${line}`));
  }
  out.push(`fix: ${report.fix}`);
  return out.join('\n');
}
