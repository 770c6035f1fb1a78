// Finds, imports, validates and resolves product definitions. Everything that can be known
// without touching the engine is checked here, before any step runs.
import { existsSync, readdirSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { config as loadDotenv } from 'dotenv';
import { ConfigError, UsageError } from '../core/errors.mts';
import { lowerPriority } from '../core/priority.mts';
import { BERTH_ROOT, parseSettings, readSetting, type BerthSettings } from '../core/settings.mts';
import { importDefinition } from './definition-import.mts';
import type { EdgeDef, ProductDef, ServiceDef } from './types.mts';
import { validateEdge, validateProduct } from './validate.mts';

export { BERTH_ROOT };

/** The typed BERTH_* settings, and the whole environment for what products name (build secrets, compose interpolation). */
export interface Settings extends BerthSettings {
  env: NodeJS.ProcessEnv;
}

/** Reads .env (never overriding the real environment) and the BERTH_* settings; every bad one is in one error. */
export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const envFile = readSetting(env, 'envFile');
  if (existsSync(envFile)) loadDotenv({ path: envFile, processEnv: env as Record<string, string>, quiet: true });
  const { settings, errors } = parseSettings(env);
  if (errors.length > 0) {
    throw new ConfigError(`the environment is invalid: ${errors.join('; ')}`, {
      fix:
        errors.length > 1
          ? `fix these ${errors.length} variables (environment or ${envFile}) and rerun`
          : `fix it (environment or ${envFile}) and rerun`,
      details: errors,
    });
  }
  return { ...settings, env };
}

/** The settings of a command that deploys, with this process (and every command it starts) at
 *  the CPU priority deploys run at (BERTH_NICE). */
export function deploySettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const settings = loadSettings(env);
  lowerPriority(settings.nice);
  return settings;
}

export interface Service extends ServiceDef {
  name: string;
  /** registry/repository, without a tag. */
  repository: string;
}

/** The VM's shared edge proxy, resolved: where its Caddy runs and where berth writes site files. */
export interface Edge {
  file: string;
  project: string;
  service: string;
  network: string;
  /** Host directory of `<product>.caddy` files. */
  sitesDir: string;
  mountedAt: string;
  config: string;
  scheme: 'https' | 'http';
}

/** The edge definition's file name in the products directory; no product may take the name. */
export const EDGE_FILE = 'edge.mts';

export interface Product {
  def: ProductDef;
  /** Set when the product routes through the shared edge (a service has routes). */
  edge?: Edge;
  name: string;
  file: string;
  repoDir: string;
  composeFiles: string[];
  /** Deployed when no --tag is given: this branch's tip on the repo's remote. */
  branch: string;
  projectName: string;
  registry: string;
  services: Record<string, Service>;
  stateDir: string;
}

export function listProducts(settings: Pick<Settings, 'productsDir'>): string[] {
  if (!existsSync(settings.productsDir)) return [];
  return readdirSync(settings.productsDir)
    .filter((file) => file.endsWith('.mts') && !file.includes('.deploy.') && file !== EDGE_FILE)
    .map((file) => file.slice(0, -'.mts'.length))
    .sort();
}

export async function importProduct(name: string, settings: Settings): Promise<{ file: string; value: unknown }> {
  const known = listProducts(settings);
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(name) || !known.includes(name)) {
    throw new UsageError(`unknown product '${name}'`, {
      fix: `use one of ${known.join(', ') || '(none)'}, or add ${join(settings.productsDir, `${name}.mts`)}`,
    });
  }
  const file = join(settings.productsDir, `${name}.mts`);
  return { file, value: await importDefinition(file, 'product') };
}

/** Shape errors and resolution errors (repo, compose files, registry), all in one list. */
export function resolveProduct(def: ProductDef, file: string, settings: Settings): { product?: Product; errors: string[] } {
  const errors: string[] = [];
  const repoDir = isAbsolute(def.repo) ? def.repo : resolve(settings.workspace, def.repo);
  if (!existsSync(repoDir)) errors.push(`repo: ${repoDir} does not exist (clone the repo there or set BERTH_WORKSPACE)`);
  else
    def.composeFiles.forEach((f, i) => {
      if (!existsSync(resolve(repoDir, f))) errors.push(`composeFiles[${i}]: ${resolve(repoDir, f)} does not exist`);
    });
  const registry = def.registry ?? settings.registry;
  if (!registry) errors.push(`registry: not set (set BERTH_REGISTRY in the environment or .env, or registry in ${file})`);
  if (errors.length > 0 || !registry) return { errors };

  const services: Record<string, Service> = {};
  for (const [name, service] of Object.entries(def.services)) {
    services[name] = { ...service, name, repository: `${registry}/${service.image ?? `${def.name}-${name}`}` };
  }
  return {
    errors,
    product: {
      def,
      name: def.name,
      file,
      repoDir,
      composeFiles: def.composeFiles,
      branch: def.branch ?? 'main',
      projectName: def.projectName ?? def.name,
      registry,
      services,
      stateDir: join(settings.stateDir, def.name),
    },
  };
}

/** `<products dir>/edge.mts`, validated; undefined when this VM has no shared edge. */
export async function loadEdge(settings: Pick<Settings, 'productsDir' | 'stateDir'>): Promise<Edge | undefined> {
  const file = join(settings.productsDir, EDGE_FILE);
  if (!existsSync(file)) return undefined;
  const value = await importDefinition(file, 'edge');
  const errors = validateEdge(value);
  if (errors.length > 0) {
    throw new ConfigError(`${file} is invalid: ${errors.join('; ')}`, {
      fix: errors.length > 1 ? `fix these ${errors.length} fields and rerun` : 'fix that field and rerun',
      details: errors,
    });
  }
  const def = value as EdgeDef;
  return {
    file,
    project: def.project,
    service: def.service,
    network: def.network,
    sitesDir: def.sitesDir ? resolve(settings.stateDir, def.sitesDir) : join(settings.stateDir, 'edge'),
    mountedAt: def.mountedAt.replace(/\/+$/, ''),
    config: def.config ?? '/etc/caddy/Caddyfile',
    scheme: def.scheme ?? 'https',
  };
}

/** Routes need the edge; a product's own proxy and the edge are one or the other, unless it is the edge. */
export function edgeErrors(def: ProductDef, edge: Edge | undefined, productsDir: string): string[] {
  const routed = Object.entries(def.services).filter(([, s]) => s.routes);
  if (routed.length === 0) return [];
  const where = `services.${routed[0]?.[0]}.routes`;
  if (!edge)
    return [
      `${where}: routes go through the VM's shared edge, and ${join(productsDir, EDGE_FILE)} does not exist (add it with defineEdge({...}); see README, "One front door")`,
    ];
  const own = Object.entries(def.services).find(([, s]) => s.kind === 'proxy')?.[0];
  const ownsEdge = (def.projectName ?? def.name) === edge.project && own === edge.service;
  if (own && !ownsEdge) {
    return [
      `${where}: ${def.name} has its own proxy service '${own}', which routes in its own Caddyfile; drop the routes, or drop '${own}' and route through the edge (${edge.file})`,
    ];
  }
  return [];
}

export async function loadProduct(name: string, settings: Settings): Promise<Product> {
  const { file, value } = await importProduct(name, settings);
  const validation = validateProduct(value, name);
  const errors = [...validation.errors];
  let product: Product | undefined;
  if (errors.length === 0) {
    const def = value as ProductDef;
    const edge = Object.values(def.services).some((s) => s.routes) ? await loadEdge(settings) : undefined;
    errors.push(...edgeErrors(def, edge, settings.productsDir));
    const resolved = resolveProduct(def, file, settings);
    errors.push(...resolved.errors);
    product = resolved.product && edge ? { ...resolved.product, edge } : resolved.product;
  }
  if (errors.length > 0 || !product) {
    throw new ConfigError(`${file} is invalid: ${errors.join('; ')}`, {
      fix: errors.length > 1 ? `fix these ${errors.length} fields and rerun` : 'fix that field and rerun',
      details: errors,
    });
  }
  return product;
}

/** The generated shims follow a checkout's own products/, whatever BERTH_PRODUCTS_DIR says.
 *  `root` is an argument, else $BERTH_ROOT, else this checkout. */
export function checkoutProducts(rootArg: string | undefined): { root: string; settings: Settings; names: string[] } {
  const root = rootArg === undefined ? readSetting(process.env, 'root') : resolve(rootArg);
  const settings = loadSettings({ ...process.env, BERTH_PRODUCTS_DIR: join(root, 'products') });
  return { root, settings, names: listProducts(settings) };
}
