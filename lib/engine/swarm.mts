// A stack's services and a service's tasks as Swarm has them now, asked through the Engine API
// when the CLI's engine is on a socket: a deploy on a swarm asks these several times a second
// while it follows an update, and a docker CLI process per question (~50-100 ms each on 2 cores)
// is what made berth notice a new task running later than Swarm's own DNS did. The CLI answers
// the same questions otherwise. The objects are the engine's own JSON (`docker service inspect`,
// `docker inspect --type task`); the deploy layer reads them with its own types.
import {
  engineStackServicesPath,
  engineTaskContainersPath,
  engineTasksPath,
  nodeList,
  serviceInspect,
  servicePs,
  stackServices,
  taskContainersHere,
  taskInspect,
} from '../commands/stack.mts';
import { EngineError } from '../core/errors.mts';
import type { Runner } from '../core/runner.mts';

async function viaEngine(runner: Runner, path: string): Promise<unknown[] | undefined> {
  const answer = await runner.engine?.(path);
  return answer?.status === 200 && Array.isArray(answer.body) ? answer.body : undefined;
}

/** Every service of a stack, full objects. */
export async function stackServiceObjects(runner: Runner, stack: string): Promise<unknown[]> {
  const answered = await viaEngine(runner, engineStackServicesPath(stack));
  if (answered) return answered;
  const names = (await runner.read(stackServices(stack)))
    .split('\n')
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as { Name: string }).Name);
  if (names.length === 0) return [];
  return JSON.parse(await runner.read(serviceInspect(names))) as unknown[];
}

/** A service's tasks, full objects; with `running`, only those meant to run now. None for a
 *  service the swarm does not have (yet, or any more). */
export async function serviceTaskObjects(runner: Runner, service: string, options: { running?: boolean } = {}): Promise<unknown[]> {
  const answered = await viaEngine(runner, engineTasksPath(service, options));
  if (answered) return answered;
  const listed = await runner.probe(servicePs(service, options));
  if (listed.exitCode !== 0 && /no such service/i.test(listed.stderr)) return [];
  if (listed.exitCode !== 0) throw new EngineError(`Swarm did not list ${service}'s tasks: ${listed.stderr.trim().split('\n')[0]}`);
  const ids = listed.stdout
    .split('\n')
    .filter(Boolean)
    .flatMap((line) => (JSON.parse(line) as { ID?: string }).ID ?? []);
  if (ids.length === 0) return [];
  return JSON.parse(await runner.read(taskInspect(ids))) as unknown[];
}

/** The running containers of a stack service's tasks on this node, by ID. */
export async function taskContainerIdsHere(runner: Runner, stack: string, service: string): Promise<string[]> {
  const answered = await viaEngine(runner, engineTaskContainersPath(stack, service));
  if (answered) return answered.map((c) => (c as { Id: string }).Id);
  return (await runner.read(taskContainersHere(stack, service))).split('\n').filter(Boolean);
}

/** How many of the swarm's nodes can take tasks now: ready and active. */
export async function readyNodeCount(runner: Runner): Promise<number> {
  const answered = (await viaEngine(runner, '/nodes')) as { Status?: { State?: string }; Spec?: { Availability?: string } }[] | undefined;
  if (answered) return answered.filter((node) => node.Status?.State === 'ready' && node.Spec?.Availability === 'active').length;
  return (await runner.read(nodeList())).split('\n').filter((line) => /^ready active$/i.test(line.trim())).length;
}
