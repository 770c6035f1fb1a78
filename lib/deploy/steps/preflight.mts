// Everything that can refuse a deploy is asked here, before any container is touched; what it
// found (the compose flavour and view, the proxy) goes into ctx.found for the later steps.
import { statfsSync, existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { YAML } from 'zx';
import { composeConfig, type ComposeFlavour } from '../../commands/compose.mts';
import type { ComposeTopLevel } from '../replica/translate.mts';
import type { ComposeServiceView, DeployContext } from '../context.mts';
import { checkEngine } from '../../engine/engine.mts';
import { localImageId } from '../../engine/images.mts';
import { detectComposeWith } from '../../engine/compose.mts';
import { gitRevParse } from '../../commands/git.mts';
import { ConfigError, EngineError } from '../../core/errors.mts';
import type { Step } from '../../core/pipeline.mts';
import { productionFilesWithBuild } from '../../build/plan.mts';
import { warnBuildOnVm } from '../build-on-vm.mts';
import { loginIfConfigured, registryUnreachable } from '../../registry/client.mts';
import { singletonReason } from '../plan/strategy.mts';
import { findProxy, ownsEdge, usesEdge } from '../topology.mts';
import { checkSites, edgeNetworkErrors, routedServices } from '../edge.mts';
import { checkedShapeFile, edgeWriter, routeShape } from '../proxy.mts';
import { writeFileAtomic } from '../../releases/atomic.mts';
import { newestCompleteCommit, ownImages } from '../../releases/branch-tip.mts';
import { unpushedRelease } from '../../releases/release-images.mts';
import { createDigestLookup } from '../../registry/digest-lookup.mts';
import { swarmProductGaps, swarmViewErrors } from '../swarm/stack-file.mts';
import { checkSwarmManager } from './swarm.mts';

type ComposeService = ComposeServiceView;

export function singletonWarnings(ctx: Pick<DeployContext, 'product'>, composeServices: Record<string, ComposeService>): string[] {
  const warnings: string[] = [];
  for (const [name, service] of Object.entries(ctx.product.services)) {
    if (service.kind !== 'http' && service.kind !== 'worker') continue;
    const reason = singletonReason(composeServices[name]);
    if (reason)
      warnings.push(
        `services.${name} ${reason}: it cannot run twice, so it is replaced stop-first (a short outage on each deploy); remove that from the compose file for a gapless switch`,
      );
  }
  return warnings;
}

/** Compares the compose files' view of each service with what the product says. */
export function checkComposeView(
  ctx: Pick<DeployContext, 'product' | 'options'>,
  config: { services?: Record<string, ComposeService> },
): string[] {
  const errors: string[] = [];
  const composeServices = config.services ?? {};
  const files = ctx.product.composeFiles.join(', ');
  for (const [name, service] of Object.entries(ctx.product.services)) {
    const composed = composeServices[name];
    if (!composed) {
      errors.push(`services.${name}: no such service in ${files}`);
      continue;
    }
    if (composed.build !== undefined) {
      const culprits = productionFilesWithBuild(ctx.product, name);
      errors.push(
        `services.${name}: has a build: section in the production view (${culprits.length ? culprits.join(', ') : files}); move it to a development override so the VM only pulls`,
      );
    }
    if (service.kind === 'http' || service.kind === 'worker') {
      const expected = `${service.repository}:${ctx.options.tag}`;
      if (composed.image !== expected) {
        errors.push(
          `services.${name}: image resolves to '${composed.image ?? '(none)'}' but berth deploys '${expected}'; use image: \${REGISTRY}/${service.repository.slice(ctx.product.registry.length + 1)}:\${IMAGE_TAG} in ${files}`,
        );
      }
    }
  }
  return errors;
}

/** Refuses a release some of whose own images are neither on this engine nor in the registry,
 *  naming the newest earlier commit that has them all. Read-only, so dry-run asks too. */
async function checkReleaseImages(ctx: DeployContext): Promise<void> {
  const { product, options, runner } = ctx;
  const present = await Promise.all(
    ownImages(product, options.tag).map(async ({ service, ref }) => ((await localImageId(runner, ref)) ? [service] : [])),
  );
  const lookup = createDigestLookup(runner);
  const refusal = await unpushedRelease({
    product,
    tag: options.tag,
    local: present.flat(),
    lookup,
    commit: async () => {
      const found = await runner.probe(gitRevParse(product.repoDir, options.tag));
      return found.exitCode === 0 ? found.stdout.trim() : undefined;
    },
    newestComplete: (commit) => newestCompleteCommit(runner, lookup, product, commit),
  });
  if (refusal) throw refusal;
}

export const preflight: Step<DeployContext> = {
  id: 'preflight',
  title: (ctx) => `preflight ${ctx.product.name}`,
  async run(ctx) {
    const registryProbe =
      ctx.options.offline || ctx.options.buildOnVm ? Promise.resolve(undefined) : registryUnreachable(ctx.product.registry);
    const files = ctx.product.composeFiles.map((f) => resolve(ctx.product.repoDir, f));
    const project = (flavour: Omit<ComposeFlavour, 'version'>, version = '') => ({
      flavour: { ...flavour, version },
      name: ctx.product.projectName,
      directory: ctx.product.repoDir,
      files,
    });
    // Independent probes at once (Compose v1 costs ~0.5 s a call): the engine, the flavour and,
    // beside each flavour's version probe, its `config`. The engine's error comes first.
    const [engineProbe, composeProbe] = await Promise.allSettled([
      checkEngine(ctx.runner),
      detectComposeWith(ctx.runner, undefined, (flavour) => ctx.runner.read(composeConfig(project(flavour)), { env: ctx.composeEnv })),
    ]);
    if (engineProbe.status === 'rejected') throw engineProbe.reason;
    if (composeProbe.status === 'rejected') throw composeProbe.reason;
    const engine = engineProbe.value;
    const flavour = composeProbe.value.flavour;
    ctx.ui.debug(`engine ${engine.version}, compose ${flavour.name} (${flavour.bin.join(' ')} ${flavour.version})`);
    if (ctx.options.buildOnVm) warnBuildOnVm(ctx);

    const configText = composeProbe.value.value ?? '';
    const config = (YAML.parse(configText) ?? {}) as { services?: Record<string, ComposeService> } & ComposeTopLevel;
    const composeServices = config.services ?? {};
    const top = { networks: config.networks ?? {}, volumes: config.volumes ?? {} };
    const errors = checkComposeView(ctx, config);
    // On a swarm, what Swarm cannot run is refused with the rest, before anything is asked of it.
    if (ctx.settings.engine === 'swarm') {
      const gaps = swarmProductGaps(ctx.product.def);
      errors.push(...swarmViewErrors(composeServices), ...gaps.errors);
      // The edge Caddy dials containers by name on this engine's networks: a stack's tasks are not there.
      if (routedServices(ctx.product).length > 0)
        errors.push(
          "routes: the shared edge does not reach a swarm's services yet: drop the routes and give the product a proxy service (kind: 'proxy', its port published with mode: host), or deploy it with engine: 'compose'",
        );
      for (const warning of gaps.warnings) ctx.ui.warn(warning);
    }
    if (usesEdge(ctx) && ctx.product.edge)
      errors.push(...edgeNetworkErrors(ctx.product, ctx.product.edge, { services: composeServices, top }));
    if (ctx.settings.engine !== 'swarm') for (const warning of singletonWarnings(ctx, composeServices)) ctx.ui.warn(warning);
    if (errors.length > 0) {
      const what =
        ctx.settings.engine === 'swarm'
          ? `${ctx.product.name} cannot be deployed to a swarm as it is`
          : `${ctx.product.name}'s compose files do not match ${ctx.product.file}`;
      throw new ConfigError(`${what}: ${errors.join('; ')}`, {
        details: errors,
      });
    }

    if (ctx.settings.engine === 'swarm') await checkSwarmManager(ctx.runner, engine.swarm);

    const unreachable = await registryProbe;
    if (unreachable) {
      throw new EngineError(`registry ${ctx.product.registry} is not reachable (${unreachable}); nothing was changed`, {
        fix: 'fix the registry or network, or in an emergency build on this VM with --build-on-vm',
      });
    }
    // The token goes to docker on stdin; compose pulls with the credentials docker stored.
    if (!ctx.options.offline && !ctx.options.buildOnVm) {
      await loginIfConfigured(ctx.runner, ctx.product.registry, ctx.settings.env);
      // After the login: a registry that wants credentials is asked with the ones docker now holds.
      await checkReleaseImages(ctx);
    }

    const diskPath = existsSync(engine.rootDir) ? engine.rootDir : '/';
    const stats = statfsSync(diskPath);
    const freeGb = (stats.bavail * stats.bsize) / 1024 ** 3;
    const minGb = ctx.product.def.minFreeDiskGb ?? 2;
    if (freeGb < minGb) {
      throw new EngineError(`only ${freeGb.toFixed(1)} GB free on ${diskPath} (need ${minGb} GB)`, {
        fix: 'free space with npx zx scripts/hygiene.mts',
      });
    }

    // Looked up once for the whole deploy: reconcile, the switch, smoke checks and undo use it.
    const proxy = await findProxy(ctx);
    const edge = usesEdge(ctx) ? ctx.product.edge : undefined;
    if (edge && !proxy && !ownsEdge(ctx)) {
      throw new EngineError(
        `the edge proxy ${edge.project}/${edge.service} is not running, so ${ctx.product.name} cannot be switched behind it; nothing was changed`,
        {
          fix: `deploy ${edge.project} first (or start it: docker compose -p ${edge.project} up -d ${edge.service})`,
        },
      );
    }
    // New routes are checked by the edge's own Caddy, beside every other product's file, before
    // anything starts. Unchanged ones are not asked again: a validate costs the edge's box a burst
    // of CPU (measured: gaps of 100-130 ms in other products' traffic on 2 cores).
    if (edge && proxy) {
      const shape = routeShape(ctx.product);
      const checked = checkedShapeFile(ctx.product);
      if (existsSync(checked) && readFileSync(checked, 'utf8') === shape)
        ctx.ui.debug('routes unchanged since the edge last accepted them');
      else {
        await checkSites(edgeWriter(ctx, proxy), shape);
        if (!ctx.options.dryRun) writeFileAtomic(checked, shape);
      }
    }
    ctx.found = {
      flavour,
      project: project(flavour, flavour.version),
      compose: { services: composeServices, top, rendered: configText },
      proxy,
    };
  },
};
