// deploy --build-on-vm: the emergency path for when the registry is down. The VM builds the
// release itself from the development view (buildComposeFiles) with BuildKit pinned, instead of
// pulling it. It is loud, and the ledger records it as kind 'build-on-vm': such images exist on
// this VM only, so the next proper build and deploy should replace them.
import { existsSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, resolve } from 'node:path';
import { composeBuildWithArgs } from '../commands/buildx.mts';
import type { ComposeProject } from '../commands/compose.mts';
import { found, servicesWith, type DeployContext } from './context.mts';
import { ConfigError } from '../core/errors.mts';
import { builderEnv, builderFromOutput, detectBuilder, type Builder } from '../build/builder.mts';
import { loadBuildView } from '../build/plan.mts';

export function warnBuildOnVm(ctx: Pick<DeployContext, 'product' | 'ui'>): void {
  const files = ctx.product.def.buildComposeFiles ?? [];
  if (files.length === 0) {
    throw new ConfigError(`${ctx.product.name} has no buildComposeFiles, so there is nothing to build on the VM from`, {
      fix: `add buildComposeFiles (the development view with build:) to ${ctx.product.file}, or wait for the registry`,
    });
  }
  const missing = files.filter((f) => !existsSync(resolve(ctx.product.repoDir, f)));
  if (missing.length > 0) {
    throw new ConfigError(`buildComposeFiles: ${missing.map((f) => resolve(ctx.product.repoDir, f)).join(', ')} does not exist`, {
      fix: `check out the release on this VM first`,
    });
  }
  ctx.ui.warn('!!! BUILDING ON THE VM (--build-on-vm): emergency path, the registry is not used !!!');
  ctx.ui.warn('the build competes with the running containers for CPU and memory (OOM risk), and the images exist on this VM only;');
  ctx.ui.warn('build and push from CI, then deploy again, as soon as the registry is back');
}

function buildProject(ctx: DeployContext): ComposeProject {
  const files = (ctx.product.def.buildComposeFiles ?? []).map((f) => resolve(ctx.product.repoDir, f));
  return { ...found(ctx).project, files };
}

export interface VmBuild {
  builder: Builder;
  services: string[];
  argv: string[];
  env: Record<string, string>;
}

/** What --build-on-vm will run: compose build of the services being replaced that have a build: section. */
export async function planBuildOnVm(ctx: DeployContext, dockerClients?: string[]): Promise<VmBuild> {
  const { flavour } = found(ctx);
  const time = new Date().toISOString();
  const releaseArgs = { BERTH_SHA: ctx.options.tag, BUILD_TIME: time };
  const view = (await loadBuildView(ctx.runner, flavour, ctx.product, { ...ctx.composeEnv, ...releaseArgs })) ?? {};
  const services = servicesWith(ctx, 'replace', 'start').filter((name) => view[name]?.build !== undefined);
  const builder = await detectBuilder(ctx.runner, dockerClients);
  // Compose v1 runs `docker build` from PATH: put the client that can do BuildKit first.
  const path: Record<string, string> = isAbsolute(builder.docker)
    ? { PATH: `${dirname(builder.docker)}${delimiter}${process.env.PATH ?? ''}` }
    : {};
  return {
    builder,
    services,
    argv: composeBuildWithArgs(buildProject(ctx), services, releaseArgs),
    env: { ...ctx.composeEnv, ...releaseArgs, ...builderEnv(builder), ...path },
  };
}

/** The pull step's skip() under --build-on-vm. */
export async function skipBuildOnVm(ctx: DeployContext): Promise<string | false> {
  if (servicesWith(ctx, 'replace', 'start').length === 0) return 'nothing to build';
  if (!ctx.options.dryRun) return false;
  const plan = await planBuildOnVm(ctx);
  const env = Object.entries(plan.env)
    .filter(([name]) => name !== 'PATH')
    .map(([name, value]) => `${name}=${value}`)
    .join(' ');
  return `dry run: would run ${env} ${ctx.runner.format(plan.argv)} (${plan.builder.summary})`;
}

export async function buildOnVm(ctx: DeployContext): Promise<void> {
  const plan = await planBuildOnVm(ctx);
  ctx.ui.warn(`building ${plan.services.join(', ') || 'nothing'} on this VM: ${plan.builder.summary}`);
  if (plan.services.length === 0) return;
  const result = await ctx.runner.run(plan.argv, { env: plan.env, timeoutMs: 60 * 60_000 });
  const ran = builderFromOutput(`${result.stdout}\n${result.stderr}`);
  ctx.ui.info(
    `built ${plan.services.join(', ')} on this VM with ${ran ?? (plan.builder.kind === 'legacy' ? 'the legacy builder' : 'BuildKit')}`,
  );
}
