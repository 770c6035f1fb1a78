// Product files are data: a whitelist of syntax, not a blacklist of words, so nothing slips
// through a spelling we did not think of. Data is literals, objects, arrays, and one way to name
// a path. The TypeScript parser (a devDependency) reads them: the drift guard runs in CI and on
// developer machines, never on the VM.
import ts from 'typescript';
import { DEFINE_SPECIFIERS } from '../config/definition-import.mts';

/** The stable names berth resolves anywhere, and the path product files in this checkout used before them. */
const DEFINE_MODULES = [...DEFINE_SPECIFIERS, '../lib/config/define.mts'];

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
  if (ts.isArrowFunction(node) || ts.isFunctionExpression(node) || ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node))
    return 'defines a function';
  if (ts.isGetAccessor(node) || ts.isSetAccessor(node)) return 'defines an accessor';
  if (ts.isAwaitExpression(node)) return 'awaits';
  if (ts.isIfStatement(node) || ts.isConditionalExpression(node)) return 'branches';
  if (ts.isIterationStatement(node, false)) return 'loops';
  if (ts.isVariableStatement(node)) return `declares ${node.declarationList.declarations.map((d) => snippet(d.name, sf)).join(', ')}`;
  if (ts.isClassDeclaration(node)) return 'declares a class';
  if (ts.isImportDeclaration(node))
    return `imports from ${snippet(node.moduleSpecifier, sf)} (only { defineProduct } or, in edge.mts, { defineEdge } from 'berth' is allowed)`;
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
  } else if (!(
    ts.isStringLiteral(node) ||
    ts.isNoSubstitutionTemplateLiteral(node) ||
    ts.isNumericLiteral(node) ||
    node.kind === ts.SyntaxKind.TrueKeyword ||
    node.kind === ts.SyntaxKind.FalseKeyword ||
    node.kind === ts.SyntaxKind.NullKeyword ||
    isLocalPath(node)
  )) {
    report(node);
  }
}

function isDefineImport(node: ts.ImportDeclaration, define: string): boolean {
  const clause = node.importClause;
  const named = clause?.namedBindings;
  return (
    ts.isStringLiteral(node.moduleSpecifier) &&
    DEFINE_MODULES.includes(node.moduleSpecifier.text) &&
    clause !== undefined &&
    !clause.isTypeOnly &&
    clause.name === undefined &&
    named !== undefined &&
    ts.isNamedImports(named) &&
    named.elements.length === 1 &&
    named.elements[0]?.name.text === define &&
    named.elements[0].propertyName === undefined
  );
}

/**
 * Everything in a product file beyond `import { defineProduct } from 'berth'`, comments, and
 * `export default defineProduct({...data...})` (or plain `{...data...}`), as `line N: what: code` findings.
 */
export function findProductLogic(source: string, file = 'product.mts', define: 'defineProduct' | 'defineEdge' = 'defineProduct'): string[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const findings: string[] = [];
  const report = (node: ts.Node) => findings.push(`line ${lineOf(node, sf)}: ${describe(node, sf)}: ${snippet(node, sf)}`);
  let exported = 0;
  for (const statement of sf.statements) {
    if (ts.isImportDeclaration(statement) && isDefineImport(statement, define)) continue;
    if (ts.isEmptyStatement(statement)) continue;
    if (ts.isExportAssignment(statement) && !statement.isExportEquals) {
      const call = statement.expression;
      // Plain data needs no import at all, and berth validates it all the same.
      const plain = ts.isAsExpression(call) && ts.isConstTypeReference(call.type) ? call.expression : call;
      if (ts.isObjectLiteralExpression(plain)) {
        exported += 1;
        checkData(plain, sf, report);
        continue;
      }
      const isDefine =
        ts.isCallExpression(call) && ts.isIdentifier(call.expression) && call.expression.text === define && !call.typeArguments;
      const first = isDefine ? call.arguments[0] : undefined;
      const argument = first && ts.isAsExpression(first) && ts.isConstTypeReference(first.type) ? first.expression : first;
      if (!isDefine || call.arguments.length !== 1 || !argument || !ts.isObjectLiteralExpression(argument)) {
        findings.push(`line ${lineOf(statement, sf)}: export default must be ${define}({ ... }) or plain { ... }: ${snippet(call, sf)}`);
        continue;
      }
      exported += 1;
      checkData(argument, sf, report);
      continue;
    }
    report(statement);
  }
  if (exported !== 1) findings.push(exported === 0 ? `has no \`export default ${define}({ ... })\`` : 'has more than one export default');
  return findings;
}
