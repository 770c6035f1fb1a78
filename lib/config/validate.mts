// Checks a product definition all at once and reports every problem with its path, so an
// operator fixes the file in one go instead of one error per run. The rules are the schema in
// product-schema.mts; this file turns its issues into berth's `path: message` lines.
import * as v from 'valibot';
import { edgeSchema, isObj, productSchema, type ProductDef } from './product-schema.mts';

export interface Validation {
  errors: string[];
  warnings: string[];
}

/** services.web.health.path, smoke[0].path; an issue on the whole file is `(product)`. */
function pathOf(issue: v.BaseIssue<unknown>): string {
  const keys = issue.path?.map((item) => item.key) ?? [];
  if (keys.length === 0) return '(product)';
  return keys.map((key, i) => (typeof key === 'number' ? `[${key}]` : i === 0 ? String(key) : `.${String(key)}`)).join('');
}

export function validateProduct(input: unknown, expectedName?: string): Validation {
  const result = v.safeParse(productSchema, input);
  const errors = (result.issues ?? []).map((issue) => `${pathOf(issue)}: ${issue.message}`);
  // The file name is not part of the shape, so it is checked here rather than in the schema.
  const name = isObj(input) ? input.name : undefined;
  if (expectedName && typeof name === 'string' && name !== '' && name !== expectedName) {
    errors.push(`name: is '${name}' but the file is named for '${expectedName}'`);
  }
  return { errors, warnings: isObj(input) ? healthWarnings(input.services) : [] };
}

/** The edge definition, every problem at once, with the same `path: message` lines. */
export function validateEdge(input: unknown): string[] {
  return (v.safeParse(edgeSchema, input).issues ?? []).map((issue) => `${pathOf(issue)}: ${issue.message}`);
}

/** Not errors: an HTTP service without a health path still deploys, on the image's own healthcheck. */
function healthWarnings(services: unknown): string[] {
  if (!isObj(services)) return [];
  return Object.entries(services)
    .filter(([, service]) => isObj(service) && service.health === undefined && service.kind === 'http')
    .map(([name]) => `services.${name}.health: not set; berth relies on the image's Docker healthcheck`);
}

/** After validation passed: the same value, typed. */
export function asProduct(input: unknown): ProductDef {
  return input as ProductDef;
}
