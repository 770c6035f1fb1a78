// The product's migration on a swarm: a one-off container from the new image (pinned by digest),
// with the service's environment, on its first network of the stack, before `docker stack deploy`
// gives any service a new spec. If it fails, nothing was updated and the previous release keeps
// serving. It runs on the manager; the service's volumes, secrets and configs are not given to it.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { YAML } from 'zx';
import { networkInspect, oneOffRun, stackNetworkCreate } from '../../commands/stack.mts';
import { ConfigError } from '../../core/errors.mts';
import type { Step } from '../../core/pipeline.mts';
import { writeFileAtomic } from '../../releases/atomic.mts';
import { servicesWith, type DeployContext } from '../context.mts';
import type { ComposeConfig } from '../swarm/stack-file.mts';

interface Migration {
  image: string;
  network: string;
  /** The network is the stack's own: berth creates it when it does not exist yet (a first deploy). */
  create: boolean;
  /** Settings of that network berth would not give it (ipam, driver_opts, ...): it is not created. */
  unsupported: string[];
  env: string[];
  command: string[];
}

/** Pure: what the migration runs with, from the rendered stack file. */
export function migrationOf(stack: ComposeConfig, project: string, service: string, command: string[]): Migration {
  const view = (stack.services ?? {})[service] ?? {};
  const nets = view.networks;
  const first = (Array.isArray(nets) ? nets[0] : nets && typeof nets === 'object' ? Object.keys(nets)[0] : undefined) ?? 'default';
  const network = (stack.networks ?? {})[String(first)] ?? {};
  const name = typeof network.name === 'string' ? network.name : `${project}_${String(first)}`;
  const environment = view.environment;
  const env = Array.isArray(environment)
    ? environment.map(String)
    : Object.entries((environment as Record<string, unknown> | undefined) ?? {}).map(([key, value]) => `${key}=${value ?? ''}`);
  const multiline = env.find((line) => line.includes('\n'));
  if (multiline) {
    throw new ConfigError(
      `services.${service}.environment ${multiline.split('=')[0]} spans several lines, which a migration's env file cannot pass`,
      {
        fix: 'put it on one line, or mount it as a file',
      },
    );
  }
  const unsupported = Object.keys(network).filter((key) => !['name', 'driver', 'attachable'].includes(key));
  return { image: String(view.image ?? ''), network: name, create: !network.external, unsupported, env, command };
}

export const swarmMigrate: Step<DeployContext> = {
  id: 'migrate',
  title: 'run migrations',
  enabled: (ctx) =>
    Boolean(ctx.product.def.migrate) && servicesWith(ctx, 'replace', 'start').includes(ctx.product.def.migrate?.service ?? ''),
  skip(ctx) {
    if (!ctx.options.dryRun) return false;
    const migration = plan(ctx);
    return `dry run: would run ${ctx.runner.format(oneOffRun({ ...migration, envFile: envFile(ctx), label: label(ctx) }))}`;
  },
  async run(ctx) {
    const migration = plan(ctx);
    if (migration.create && (await ctx.runner.probe(networkInspect(migration.network))).exitCode !== 0) {
      if (migration.unsupported.length > 0) {
        throw new ConfigError(
          `the migration needs the network ${migration.network}, which does not exist yet, and berth would not create it with its ${migration.unsupported.join(', ')}; nothing was changed`,
          {
            fix: `create it first: docker network create --driver overlay --attachable --label com.docker.stack.namespace=${ctx.product.projectName} ... ${migration.network}`,
          },
        );
      }
      await ctx.runner.run(stackNetworkCreate(migration.network, ctx.product.projectName));
    }
    const file = envFile(ctx);
    writeFileAtomic(file, migration.env.map((line) => `${line}\n`).join(''), { mode: 0o600 });
    try {
      await ctx.runner.run(oneOffRun({ ...migration, envFile: file, label: label(ctx) }), { timeoutMs: 30 * 60_000 });
    } finally {
      rmSync(file, { force: true });
    }
  },
};

function plan(ctx: DeployContext): Migration {
  const migrate = ctx.product.def.migrate;
  if (!migrate || !ctx.swarm?.text) throw new Error('no migration, or the stack file is not rendered');
  return migrationOf(YAML.parse(ctx.swarm.text) as ComposeConfig, ctx.product.projectName, migrate.service, migrate.command);
}

const envFile = (ctx: DeployContext) => join(ctx.product.stateDir, 'migrate.env');
const label = (ctx: DeployContext) => `berth.migrate=${ctx.product.projectName}`;
