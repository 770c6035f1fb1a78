// Is there a Docker engine to test against? Locally, integration tests skip without one; in CI
// (CI=true) a missing engine is a failure, never a silent skip.
import { dockerInfo } from '../../lib/commands/docker.mts';
import { createRunner, type Runner } from '../../lib/core/runner.mts';

/** The runner the rig itself uses: quiet, no dry-run. */
export const rigRunner: Runner = createRunner();

export async function requireEngine(runner: Runner = rigRunner): Promise<boolean> {
  const info = await runner.probe(dockerInfo(), { timeoutMs: 20_000 });
  if (info.exitCode === 0) return true;
  if (/^(true|1)$/i.test(process.env.CI ?? '')) {
    throw new Error(`CI=true but the Docker engine is unreachable (run scripts/engine-up.sh): ${info.stderr.trim()}`);
  }
  return false;
}

/** For `describe.skipIf(!engineAvailable)`; importing this module in CI without an engine fails. */
export const engineAvailable: boolean = await requireEngine();

/** The host port Docker published for a container port (`-p 127.0.0.1:0:8080`). */
export async function publishedPort(container: string, containerPort: number, runner: Runner = rigRunner): Promise<number> {
  const out = await runner.read(['docker', 'port', container, `${containerPort}/tcp`]);
  const port = Number(/:(\d+)\s*$/m.exec(out.split('\n')[0] ?? '')?.[1]);
  if (!port) throw new Error(`no published port for ${container}:${containerPort}: ${out}`);
  return port;
}
