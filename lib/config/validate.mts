// Checks a product definition all at once and reports every problem with its path, so an
// operator fixes the file in one go instead of one error per run.
import type { ProductDef } from './types.mts';

export interface Validation {
  errors: string[];
  warnings: string[];
}

const KINDS = ['http', 'worker', 'stateful', 'proxy'];
const NAME = /^[a-z0-9][a-z0-9_-]*$/;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

class Checker {
  errors: string[] = [];
  warnings: string[] = [];
  error(path: string, message: string) {
    this.errors.push(`${path}: ${message}`);
  }
  string(obj: Obj, key: string, path: string, required: boolean): string | undefined {
    const value = obj[key];
    if (value === undefined) {
      if (required) this.error(`${path}${key}`, 'required');
      return undefined;
    }
    if (typeof value !== 'string' || value === '') {
      this.error(`${path}${key}`, 'expected a non-empty string');
      return undefined;
    }
    return value;
  }
  stringList(obj: Obj, key: string, path: string, required: boolean) {
    const value = obj[key];
    if (value === undefined) {
      if (required) this.error(`${path}${key}`, 'required');
      return;
    }
    if (!Array.isArray(value) || (required && value.length === 0)) {
      this.error(`${path}${key}`, required ? 'expected a non-empty list of strings' : 'expected a list of strings');
      return;
    }
    value.forEach((item, i) => {
      if (typeof item !== 'string' || item === '') this.error(`${path}${key}[${i}]`, 'expected a non-empty string');
    });
  }
  stringMap(obj: Obj, key: string, path: string) {
    const value = obj[key];
    if (value === undefined) return;
    if (!isObj(value)) return this.error(`${path}${key}`, 'expected a map of strings');
    for (const [k, v] of Object.entries(value)) if (typeof v !== 'string') this.error(`${path}${key}.${k}`, 'expected a string');
  }
  number(obj: Obj, key: string, path: string, min: number, max: number, integer = true) {
    const value = obj[key];
    if (value === undefined) return;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
      this.error(`${path}${key}`, `expected ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`);
    }
  }
  boolean(obj: Obj, key: string, path: string) {
    if (obj[key] !== undefined && typeof obj[key] !== 'boolean') this.error(`${path}${key}`, 'expected true or false');
  }
  path(obj: Obj, key: string, path: string) {
    const value = obj[key];
    if (value === undefined) return;
    if (typeof value !== 'string' || !value.startsWith('/')) this.error(`${path}${key}`, 'expected a string starting with /');
  }
  unknownKeys(obj: Obj, allowed: string[], path: string) {
    for (const key of Object.keys(obj)) {
      if (!allowed.includes(key)) this.error(`${path}${key}`, `unknown field (expected one of ${allowed.join(', ')})`);
    }
  }
}

function checkService(c: Checker, name: string, service: unknown) {
  const path = `services.${name}.`;
  if (!NAME.test(name)) c.error(`services.${name}`, 'service names are lower-case letters, digits, - and _');
  if (!isObj(service)) return c.error(`services.${name}`, 'expected an object');
  c.unknownKeys(service, ['kind', 'image', 'health', 'build', 'drainSeconds', 'stopFirst'], path);
  if (service.kind === undefined) c.error(`${path}kind`, `required (one of ${KINDS.join(', ')})`);
  else if (!KINDS.includes(service.kind as string)) c.error(`${path}kind`, `expected one of ${KINDS.join(', ')}`);
  c.string(service, 'image', path, false);
  c.number(service, 'drainSeconds', path, 0, 300, false);
  c.boolean(service, 'stopFirst', path);
  if (service.health !== undefined) {
    const health = service.health;
    if (!isObj(health)) c.error(`${path}health`, 'expected an object');
    else {
      c.unknownKeys(health, ['path', 'port', 'timeoutSeconds'], `${path}health.`);
      c.path(health, 'path', `${path}health.`);
      c.number(health, 'port', `${path}health.`, 1, 65535);
      c.number(health, 'timeoutSeconds', `${path}health.`, 1, 3600);
      if (health.path !== undefined && health.port === undefined) c.error(`${path}health.port`, 'required when health.path is set');
    }
  } else if (service.kind === 'http') {
    c.warnings.push(`${path}health: not set; berth relies on the image's Docker healthcheck`);
  }
  if (service.build !== undefined) {
    const build = service.build;
    if (!isObj(build)) c.error(`${path}build`, 'expected an object');
    else {
      c.unknownKeys(build, ['context', 'dockerfile', 'target', 'paths', 'args', 'secrets'], `${path}build.`);
      c.string(build, 'context', `${path}build.`, true);
      c.string(build, 'dockerfile', `${path}build.`, false);
      c.string(build, 'target', `${path}build.`, false);
      c.stringList(build, 'paths', `${path}build.`, false);
      c.stringMap(build, 'args', `${path}build.`);
      c.stringMap(build, 'secrets', `${path}build.`);
    }
  }
}

export function validateProduct(input: unknown, expectedName?: string): Validation {
  const c = new Checker();
  if (!isObj(input)) {
    c.error('(product)', 'the default export must be defineProduct({...})');
    return c;
  }
  c.unknownKeys(
    input,
    [
      'name',
      'repo',
      'composeFiles',
      'buildComposeFiles',
      'projectName',
      'registry',
      'services',
      'smoke',
      'migrate',
      'keepReleases',
      'minFreeDiskGb',
      'deployAll',
      'monitorSeconds',
    ],
    '',
  );
  const name = c.string(input, 'name', '', true);
  if (name && !NAME.test(name)) c.error('name', 'lower-case letters, digits, - and _ only');
  if (name && expectedName && name !== expectedName) c.error('name', `is '${name}' but the file is named for '${expectedName}'`);
  c.string(input, 'repo', '', true);
  c.stringList(input, 'composeFiles', '', true);
  c.stringList(input, 'buildComposeFiles', '', false);
  c.string(input, 'projectName', '', false);
  c.string(input, 'registry', '', false);
  c.number(input, 'keepReleases', '', 1, 100);
  c.boolean(input, 'deployAll', '');
  c.number(input, 'monitorSeconds', '', 0, 600, false);
  c.number(input, 'minFreeDiskGb', '', 0, 10_000, false);

  if (!isObj(input.services) || Object.keys(input.services).length === 0) {
    c.error('services', 'required: at least one service');
  } else {
    for (const [svc, def] of Object.entries(input.services)) checkService(c, svc, def);
    const proxies = Object.entries(input.services).filter(([, s]) => isObj(s) && s.kind === 'proxy');
    if (proxies.length > 1) c.error('services', `at most one proxy service (found ${proxies.map(([n]) => n).join(', ')})`);
  }
  const services = isObj(input.services) ? input.services : {};

  if (input.smoke !== undefined) {
    if (!Array.isArray(input.smoke)) c.error('smoke', 'expected a list of checks');
    else
      input.smoke.forEach((check, i) => {
        const path = `smoke[${i}].`;
        if (!isObj(check)) return c.error(`smoke[${i}]`, 'expected an object');
        c.unknownKeys(check, ['path', 'host', 'status', 'contains'], path);
        if (check.path === undefined) c.error(`${path}path`, 'required');
        c.path(check, 'path', path);
        c.string(check, 'host', path, false);
        c.number(check, 'status', path, 100, 599);
        c.string(check, 'contains', path, false);
      });
  }
  if (input.migrate !== undefined) {
    const migrate = input.migrate;
    if (!isObj(migrate)) c.error('migrate', 'expected { service, command }');
    else {
      const svc = c.string(migrate, 'service', 'migrate.', true);
      if (svc && !(svc in services)) c.error('migrate.service', `unknown service '${svc}' (services: ${Object.keys(services).join(', ')})`);
      c.stringList(migrate, 'command', 'migrate.', true);
    }
  }
  return c;
}

/** After validation passed: the same value, typed. */
export function asProduct(input: unknown): ProductDef {
  return input as ProductDef;
}
