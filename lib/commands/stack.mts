// Pure argv builders for Docker Swarm: the stack a product becomes, its services and their tasks.
// Swarm names a stack's service <stack>_<service>; berth's stack is the product's project name.

/** `docker stack deploy`: the stack file pins every image by digest, and the nodes pull it with
 *  the manager's registry credentials. --detach=true: berth follows each update itself (CLIs from
 *  26 on would otherwise wait without saying why an update failed). */
export function stackDeploy(file: string, stack: string, options: { detachFlag?: boolean } = {}): string[] {
  return [
    'docker',
    'stack',
    'deploy',
    '--with-registry-auth',
    ...(options.detachFlag ? ['--detach=true'] : []),
    '--compose-file',
    file,
    stack,
  ];
}

/** Whether this docker CLI knows `stack deploy --detach` (26 and later): its help names it. */
export function stackDeployHelp(): string[] {
  return ['docker', 'stack', 'deploy', '--help'];
}

export function stackServiceName(stack: string, service: string): string {
  return `${stack}_${service}`;
}

/** The stack's services, one JSON object a line (ID, Name, Image, Replicas). */
export function stackServices(stack: string): string[] {
  return ['docker', 'service', 'ls', '--filter', `label=com.docker.stack.namespace=${stack}`, '--format', '{{json .}}'];
}

/** The same stack's full service objects through the Engine API (one request, no process). */
export function engineStackServicesPath(stack: string): string {
  return `/services?filters=${encodeURIComponent(JSON.stringify({ label: [`com.docker.stack.namespace=${stack}`] }))}`;
}

/** A service's tasks as `docker inspect --type task` shows them, through the Engine API; with
 *  `running`, only those meant to run now. */
export function engineTasksPath(service: string, options: { running?: boolean } = {}): string {
  const filters = { service: [service], ...(options.running ? { 'desired-state': ['running'] } : {}) };
  return `/tasks?filters=${encodeURIComponent(JSON.stringify(filters))}`;
}

/** The swarm's nodes, one line each: status and availability (`Ready Active`). */
export function nodeList(): string[] {
  return ['docker', 'node', 'ls', '--format', '{{.Status}} {{.Availability}}'];
}

/** Full service objects (Spec, Version, UpdateStatus) as a JSON array. */
export function serviceInspect(services: string[]): string[] {
  return ['docker', 'service', 'inspect', ...services];
}

/** A service's tasks, newest first, one JSON object a line (Name, Image, Node, DesiredState,
 *  CurrentState, Error); with `running`, only those meant to run now (no history). */
export function servicePs(service: string, options: { running?: boolean } = {}): string[] {
  return [
    'docker',
    'service',
    'ps',
    '--no-trunc',
    ...(options.running ? ['--filter', 'desired-state=running'] : []),
    '--format',
    '{{json .}}',
    service,
  ];
}

/** The containers of a stack's tasks on this node (running or not), one ID a line. */
export function stackContainersHere(stack: string): string[] {
  return ['docker', 'ps', '--all', '--quiet', '--filter', `label=com.docker.stack.namespace=${stack}`];
}

/** The last lines a service's tasks printed. */
export function serviceLogs(service: string, tail = 20): string[] {
  return ['docker', 'service', 'logs', '--no-task-ids', '--tail', String(tail), service];
}

/** This engine's place in a swarm: `active true` on a manager. */
export function swarmState(): string[] {
  return ['docker', 'info', '--format', '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}'];
}

/** The container a task ran in (its id), to read that container's health log. */
export function taskContainer(task: string): string[] {
  return ['docker', 'inspect', '--format', '{{.Status.ContainerStatus.ContainerID}}', task];
}

/** Tasks as Swarm keeps them (any node): state, spec image and each network attachment's addresses. */
export function taskInspect(tasks: string[]): string[] {
  return ['docker', 'inspect', '--type', 'task', ...tasks];
}

/** The running containers of a service's tasks on this node, one ID a line. */
export function taskContainersHere(stack: string, service: string): string[] {
  return [
    'docker',
    'ps',
    '--filter',
    `label=com.docker.swarm.service.name=${stackServiceName(stack, service)}`,
    '--filter',
    'status=running',
    '--format',
    '{{.ID}}',
  ];
}

/** The same through the Engine API (JSON list with Id). */
export function engineTaskContainersPath(stack: string, service: string): string {
  const filters = { label: [`com.docker.swarm.service.name=${stackServiceName(stack, service)}`], status: ['running'] };
  return `/containers/json?filters=${encodeURIComponent(JSON.stringify(filters))}`;
}

/** A one-off container from `image` on an attachable overlay network of the stack: a migration
 *  before the update. Its environment comes from a file (values may be secrets: not on the command line). */
export function oneOffRun(options: { image: string; network: string; envFile: string; command: string[]; label: string }): string[] {
  return [
    'docker',
    'run',
    '--rm',
    '--label',
    options.label,
    '--network',
    options.network,
    '--env-file',
    options.envFile,
    options.image,
    ...options.command,
  ];
}

/** Whether a network exists (exit 0). */
export function networkInspect(name: string): string[] {
  return ['docker', 'network', 'inspect', '--format', '{{.Name}}', name];
}

/** A stack's network made before its first `stack deploy` (which then adopts it: it carries the
 *  stack's label), so a migration can run on it. */
export function stackNetworkCreate(name: string, stack: string): string[] {
  return ['docker', 'network', 'create', '--driver', 'overlay', '--attachable', '--label', `com.docker.stack.namespace=${stack}`, name];
}
