// Only images this deploy may need are pulled: the selected services and any service not running
// at all (first deploy). Untouched services are never pulled.
import { statfs } from 'node:fs/promises';
import { composePull } from '../../commands/compose.mts';
import { dockerPull } from '../../commands/docker.mts';
import { found, imageRef, servicesWith, type DeployContext } from '../context.mts';
import type { Step } from '../../core/pipeline.mts';
import { formatBytes } from '../../core/bytes.mts';
import { EngineError } from '../../core/errors.mts';
import { checkEngine } from '../../engine/engine.mts';
import { engineFault } from '../../engine/faults.mts';
import { currentRelease, readLedger } from '../../releases/ledger.mts';
import { buildOnVm, skipBuildOnVm } from '../build-on-vm.mts';

/** berth knows the images of its own services and pulls them with docker directly, in parallel
 *  (a Compose v1 call alone costs ~0.5 s); other images (proxy, stateful) go through compose. */
export function pullCommands(ctx: DeployContext): string[][] {
  return pulls(ctx).map((p) => p.argv);
}

/** Each pull command with what it pulls, in words for an error line. */
function pulls(ctx: DeployContext): { argv: string[]; what: string }[] {
  const { project } = found(ctx);
  const services = servicesWith(ctx, 'replace', 'start');
  const own = services.filter((s) => ['http', 'worker'].includes(ctx.product.services[s]?.kind ?? ''));
  const others = services.filter((s) => !own.includes(s));
  return [
    ...own.map((s) => ({ argv: dockerPull(imageRef(ctx, s)), what: imageRef(ctx, s) })),
    ...(others.length ? [{ argv: composePull(project, others), what: `the images of ${others.join(', ')}` }] : []),
  ];
}

export const pull: Step<DeployContext> = {
  id: 'pull',
  title: (ctx) => (ctx.options.buildOnVm ? 'build images on this VM (--build-on-vm)' : 'pull images'),
  skip(ctx) {
    if (ctx.options.buildOnVm) return skipBuildOnVm(ctx);
    if (servicesWith(ctx, 'replace', 'start').length === 0) return 'nothing to pull';
    if (ctx.options.offline) return 'every image is local (offline)';
    if (ctx.options.dryRun)
      return `dry run: would run ${pullCommands(ctx)
        .map((c) => ctx.runner.format(c))
        .join(' & ')}`;
    return false;
  },
  async run(ctx) {
    if (ctx.options.buildOnVm) return buildOnVm(ctx);
    await Promise.all(
      pulls(ctx).map(async ({ argv, what }) => {
        try {
          await ctx.runner.run(argv, { env: ctx.composeEnv, timeoutMs: 15 * 60_000 });
        } catch (error) {
          throw await pullFailure(ctx, what, error);
        }
      }),
    );
  },
};

/** Where the engine keeps its images, with its free space when that disk is this machine's. */
async function dataRoot(ctx: DeployContext): Promise<string> {
  const root = await checkEngine(ctx.runner)
    .then((info) => info.rootDir)
    .catch(() => '');
  if (!root) return "the engine's data root";
  const free = await statfs(root).then(
    (fs) => fs.bavail * fs.bsize,
    () => undefined,
  );
  return free === undefined ? root : `${root}, ${formatBytes(free)} free`;
}

/** The registry's API root: plain http on loopback (Docker's own exception), https elsewhere. */
function registryUrl(registry: string): string {
  const host = registry.split('/')[0] ?? registry;
  return `${/^(127\.|localhost[:/]|localhost$|\[::1\])/.test(host) ? 'http' : 'https'}://${host}/v2/`;
}

/**
 * A pull that failed for one of the reasons a VM really meets (full disk, registry gone, engine
 * restarted) as one line: what berth saw, that nothing was switched, and what to do. The pull runs
 * before any container is touched, so the release the ledger names still serves. Anything else
 * keeps the command's own error.
 */
export async function pullFailure(ctx: DeployContext, what: string, error: unknown): Promise<unknown> {
  const fault = engineFault(error);
  if (!fault) return error;
  const running = currentRelease(readLedger(ctx.product.stateDir))?.tag;
  const kept = `nothing was switched${running ? `, ${ctx.product.name} still runs ${running}` : ''}`;
  const saw = (text: string) => `pulling ${what} failed: ${text}${fault.reason ? ` (${fault.reason})` : ''}; ${kept}`;
  switch (fault.kind) {
    case 'disk-full':
      return new EngineError(saw(`the disk under the engine's data (${await dataRoot(ctx)}) is full`), {
        fix: 'free space there (`docker system df` shows what uses it) or grow the disk, then deploy again',
        cause: error,
      });
    case 'registry-gone':
      return new EngineError(saw(`the registry ${ctx.product.registry} stopped answering mid-pull`), {
        fix: `check that the registry runs and answers (curl ${registryUrl(ctx.product.registry)}), then deploy again`,
        cause: error,
      });
    case 'engine-gone':
      return new EngineError(saw('the Docker engine went away mid-pull, restarted or stopped'), {
        fix: 'check that it runs again (docker info; systemctl status docker), then deploy again',
        cause: error,
      });
  }
}
