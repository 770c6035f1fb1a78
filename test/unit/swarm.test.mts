import { describe, expect, it } from 'vitest';
import {
  serviceInspect,
  servicePs,
  stackContainersHere,
  stackDeploy,
  stackServices,
  swarmState,
  networkInspect,
  oneOffRun,
  stackNetworkCreate,
  taskContainersHere,
  engineStackServicesPath,
  engineTasksPath,
  engineTaskContainersPath,
} from '../../lib/commands/stack.mts';
import { swarmServiceStatus, taskStatus } from '../../lib/ops/swarm-status.mts';
import { formatTasks } from '../../lib/ops/status-text.mts';
import { migrationOf } from '../../lib/deploy/steps/swarm-migrate.mts';
import type { ReleaseRecord } from '../../lib/releases/ledger.mts';
import {
  renderStack,
  startFirstWithoutRoom,
  swarmProductGaps,
  swarmViewErrors,
  withoutEnvironmentValues,
  type StackInputs,
} from '../../lib/deploy/swarm/stack-file.mts';
import {
  failedTask,
  jsonLines,
  tasksShort,
  specImage,
  digestReference,
  taskErrors,
  updateProgress,
  type SwarmService,
} from '../../lib/deploy/swarm/updates.mts';
import { deployPhases } from '../../lib/deploy/deploy-product.mts';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const product = {
  projectName: 'shop',
  services: {
    web: { kind: 'http', repository: 'reg:5000/shop-web' },
    worker: { kind: 'worker', repository: 'reg:5000/shop-worker' },
    db: { kind: 'stateful' },
  },
} as unknown as StackInputs['product'];

const inputs = (services: Record<string, Record<string, unknown>>, extra: Partial<StackInputs> = {}): StackInputs => ({
  product,
  config: { name: 'shop', services, networks: { default: { name: 'shop_default' } } },
  images: { web: `reg:5000/shop-web:abc@${DIGEST}` },
  imageHealthchecks: new Set(['web']),
  monitorSeconds: 3,
  ...extra,
});

describe('renderStack', () => {
  it('pins images, sets start-first updates with rollback, dnsrr, and an attachable overlay', () => {
    const { stack, errors } = renderStack(
      inputs({ web: { image: 'reg:5000/shop-web:abc', restart: 'unless-stopped', depends_on: { db: { condition: 'service_started' } } } }),
    );
    expect(errors).toEqual([]);
    expect(stack).toEqual({
      version: '3.9',
      services: {
        web: {
          image: `reg:5000/shop-web:abc@${DIGEST}`,
          deploy: {
            update_config: { parallelism: 1, order: 'start-first', failure_action: 'rollback', monitor: '3s', max_failure_ratio: 0 },
            rollback_config: { parallelism: 1, order: 'start-first', failure_action: 'pause', monitor: '3s' },
            endpoint_mode: 'dnsrr',
          },
        },
      },
      networks: { default: { name: 'shop_default', driver: 'overlay', attachable: true } },
    });
  });

  it('adds the default network Compose v1 leaves out, attachable', () => {
    const { stack } = renderStack({ ...inputs({ web: { image: 'x' } }), config: { services: { web: { image: 'x' } } } });
    expect(stack.networks).toEqual({ default: { driver: 'overlay', attachable: true } });
    const own = renderStack({ ...inputs({}), config: { services: { web: { image: 'x', networks: ['front'] } }, networks: { front: {} } } });
    expect(own.stack.networks).toEqual({ front: { driver: 'overlay', attachable: true } });
  });

  it('keeps what the product set itself, and replaces a stateful service stop-first', () => {
    const { stack, errors } = renderStack(
      inputs({
        web: { image: 'x', deploy: { replicas: 2, endpoint_mode: 'vip', update_config: { monitor: '10s', order: 'stop-first' } } },
        db: { image: 'postgres:16', volumes: [{ type: 'bind', source: '/srv/db', target: '/data', bind: { create_host_path: true } }] },
      }),
    );
    expect(errors).toEqual([]);
    const web = stack.services?.web as { deploy: Record<string, Record<string, unknown> | string | number> };
    expect(web.deploy.replicas).toBe(2);
    expect(web.deploy.endpoint_mode).toBe('vip');
    expect(web.deploy.update_config).toMatchObject({ monitor: '10s', order: 'stop-first', failure_action: 'rollback' });
    const db = stack.services?.db as { image: string; volumes: unknown[]; deploy: { update_config: { order: string } } };
    expect(db.image).toBe('postgres:16');
    expect(db.deploy.update_config.order).toBe('stop-first');
    expect(db.volumes).toEqual([{ type: 'bind', source: '/srv/db', target: '/data' }]);
  });

  it('refuses a start-first update that max_replicas_per_node leaves no node for', () => {
    const spread = (replicas: number, limit: number, extra: Record<string, unknown> = {}) =>
      inputs({ web: { image: 'x', deploy: { replicas, placement: { max_replicas_per_node: limit }, ...extra } } }, { nodes: 2 });
    // 2 replicas, one per node, 2 nodes: the update's third task has nowhere to go.
    expect(renderStack(spread(2, 1)).errors).toEqual([
      expect.stringMatching(
        /^services\.web: placement\.max_replicas_per_node 1 on 2 nodes leaves no room for the task a start-first update adds to its 2 replicas, and the update would wait forever; raise max_replicas_per_node to 2, add a node, or set deploy\.update_config\.order: stop-first$/,
      ),
    ]);
    expect(renderStack(spread(1, 1)).errors).toEqual([]);
    expect(renderStack(spread(2, 2)).errors).toEqual([]);
    // Stop-first makes room itself; an unknown node count refuses nothing.
    expect(renderStack(spread(2, 1, { update_config: { order: 'stop-first' } })).errors).toEqual([]);
    expect(renderStack({ ...spread(2, 1), nodes: undefined }).errors).toEqual([]);
    // Parallelism 2 adds two tasks at once.
    expect(
      startFirstWithoutRoom(
        { replicas: 3, placement: { max_replicas_per_node: 2 }, update_config: { order: 'start-first', parallelism: 2 } },
        2,
      ),
    ).toMatch(/raise max_replicas_per_node to 3/);
  });

  it('refuses an HTTP service without a healthcheck and an own image without a digest, all at once', () => {
    const { errors } = renderStack(
      inputs({ web: { image: 'x' }, worker: { image: 'reg:5000/shop-worker:abc' } }, { imageHealthchecks: new Set() }),
    );
    expect(errors).toEqual([
      expect.stringMatching(/^services\.web has no healthcheck: .*add healthcheck: to the compose file or HEALTHCHECK to the image$/),
      expect.stringMatching(/^services\.worker: no digest for reg:5000\/shop-worker:abc; push/),
    ]);
    // A compose healthcheck is enough; a disabled one is none.
    expect(
      renderStack(inputs({ web: { image: 'x', healthcheck: { test: ['CMD', 'true'] } } }, { imageHealthchecks: new Set() })).errors,
    ).toEqual([]);
    expect(
      renderStack(inputs({ web: { image: 'x', healthcheck: { disable: true } } }, { imageHealthchecks: new Set() })).errors,
    ).toHaveLength(1);
    // Not known yet (a dry run before the pull): said, not refused.
    const unknown = renderStack(inputs({ web: { image: 'x' } }, { imageHealthchecks: undefined }));
    expect(unknown.errors).toEqual([]);
    expect(unknown.notes).toEqual(["services.web: its image's healthcheck is checked once it is pulled"]);
  });
});

describe('swarmViewErrors', () => {
  it('names every key Swarm cannot take, with its fix, and leaves build to the compose view check', () => {
    expect(
      swarmViewErrors({
        web: {
          image: 'x',
          build: { context: '.' },
          container_name: 'web',
          ports: [
            '8080',
            '127.0.0.1::80/tcp',
            { target: 80, published: '8081', mode: 'ingress' },
            { target: 80, host_ip: '127.0.0.1', mode: 'ingress' },
            { target: 80, published: 8082, mode: 'host' },
          ],
          frobnicate: true,
          'x-note': 1,
        },
        db: { image: 'y', network_mode: 'host', privileged: true },
      }),
    ).toEqual([
      'services.web.container_name is not supported by Docker Swarm: remove it; Swarm names each task itself',
      'services.web.frobnicate is not supported by docker stack deploy: remove it or move it to a development override',
      expect.stringMatching(/^services\.web\.ports 8080 would publish through Swarm's ingress routing mesh.*mode: host/),
      expect.stringMatching(/^services\.web\.ports 127\.0\.0\.1::80\/tcp would publish/),
      expect.stringMatching(/^services\.web\.ports 8081:80 would publish/),
      expect.stringMatching(/^services\.web\.ports 127\.0\.0\.1::80 would publish/),
      'services.db.network_mode is not supported by Docker Swarm: attach the service to a network under networks: instead',
      'services.db.privileged is not supported by Docker Swarm: remove it, or grant the capabilities it needs with cap_add',
    ]);
  });
});

describe('withoutEnvironmentValues', () => {
  it('hides every environment value, in both forms, and keeps the names', () => {
    const stack = {
      version: '3.9',
      services: {
        a: { image: 'x', environment: { TOKEN: 's3cret', EMPTY: '' } },
        b: { environment: ['PASS=p=w', 'FLAG'] },
        c: { image: 'y' },
      },
    };
    expect(withoutEnvironmentValues(stack).services).toEqual({
      a: { image: 'x', environment: { TOKEN: '(hidden)', EMPTY: '(hidden)' } },
      b: { environment: ['PASS=(hidden)', 'FLAG'] },
      c: { image: 'y' },
    });
  });
});

describe('swarmProductGaps', () => {
  it('refuses beforeSwitch hooks berth would not run, and smoke checks with no front door', () => {
    expect(swarmProductGaps({})).toEqual({ errors: [], warnings: [] });
    const gaps = swarmProductGaps({
      beforeSwitch: [{}],
      smoke: [{}],
      services: { web: { kind: 'http' } },
    });
    expect(gaps.errors).toEqual([
      expect.stringMatching(/^beforeSwitch: .*BERTH_ENGINE=compose$/),
      expect.stringMatching(/^smoke: on a swarm berth runs the smoke checks through the product's proxy service, and it has none/),
    ]);
    expect(swarmProductGaps({ smoke: [{}], services: { web: { kind: 'http' }, proxy: { kind: 'proxy' } } }).errors).toEqual([]);
  });
});

describe('following an update', () => {
  const since = Date.parse('2026-11-28T10:00:00Z');
  const service = (state: string, startedAt = '2026-11-28T10:00:01Z', message?: string): SwarmService => ({
    ID: 'x',
    UpdateStatus: { State: state, StartedAt: startedAt, ...(message ? { Message: message } : {}) },
  });

  it('reads the states of an update that began with this deploy', () => {
    expect(updateProgress(service('updating'), since)).toEqual({ state: 'waiting', detail: 'updating' });
    expect(updateProgress(service('completed'), since)).toEqual({ state: 'completed' });
    expect(updateProgress(service('rollback_completed', undefined, 'rollback completed'), since)).toEqual({
      state: 'rolled-back',
      detail: 'rollback completed',
    });
    expect(updateProgress(service('paused', undefined, 'update paused due to failure'), since)).toMatchObject({ state: 'paused' });
    expect(updateProgress(service('rollback_paused'), since)).toMatchObject({ state: 'paused' });
  });

  it("waits while the status is the previous deploy's, and leaves a new service to its task count", () => {
    expect(updateProgress(service('completed', '2026-11-28T09:00:00Z'), since)).toMatchObject({ state: 'waiting' });
    expect(updateProgress({ ID: 'x' }, since)).toBeUndefined();
  });

  it('counts running tasks against the replicas wanted', () => {
    const svc: SwarmService = { ID: 'x', Spec: { Mode: { Replicated: { Replicas: 2 } } } };
    const task = (State: string, DesiredState = 'running', Image = 'i:v2') => ({
      ID: 't',
      DesiredState,
      Status: { State },
      Spec: { ContainerSpec: { Image } },
    });
    expect(tasksShort(svc, [task('running'), task('starting')])).toBe(1);
    expect(tasksShort(svc, [task('running'), task('running'), task('running', 'shutdown')])).toBe(0);
    // Of one release: the old release's running task does not count.
    expect(tasksShort(svc, [task('running'), task('running', 'running', 'i:v1')], 'i:v2')).toBe(1);
    expect(tasksShort({ ID: 'g', Spec: { Mode: {} } }, [task('running')])).toBe(0);
  });

  it('names why tasks failed, each error once, newest first', () => {
    const tasks = jsonLines<{ Name: string; Image: string; DesiredState: string; CurrentState: string; Error: string }>(
      [
        JSON.stringify({
          Name: 'shop_web.1',
          Image: `r/web:v3@${DIGEST}`,
          DesiredState: 'Shutdown',
          CurrentState: 'Failed 2 seconds ago',
          Error: 'task: non-zero exit (1): dockerexec: unhealthy container',
        }),
        JSON.stringify({
          Name: ' \\_ shop_web.1',
          Image: `r/web:v3@${DIGEST}`,
          DesiredState: 'Shutdown',
          CurrentState: 'Failed 9 seconds ago',
          Error: 'task: non-zero exit (1): dockerexec: unhealthy container',
        }),
        JSON.stringify({
          Name: ' \\_ shop_web.1',
          Image: `r/web:v2@${DIGEST}`,
          DesiredState: 'Running',
          CurrentState: 'Running 1 minute ago',
          Error: '',
        }),
        '',
      ].join('\n'),
    );
    expect(taskErrors(tasks)).toEqual(['shop_web.1 (r/web:v3): task: non-zero exit (1): dockerexec: unhealthy container']);
    // A task stopped for its healthcheck may exit 0: no error, but it ended.
    const quiet = [
      {
        ID: 't2',
        Name: 'shop_web.1',
        Image: `r/web:v3@${DIGEST}`,
        DesiredState: 'Shutdown',
        CurrentState: 'Complete 3 seconds ago',
        Error: '',
      },
      {
        ID: 't1',
        Name: 'shop_web.1',
        Image: `r/web:v2@${DIGEST}`,
        DesiredState: 'Running',
        CurrentState: 'Running 1 minute ago',
        Error: '',
      },
    ];
    expect(taskErrors(quiet)).toEqual([]);
    expect(taskErrors(quiet, `r/web:v3@${DIGEST}`)).toEqual([
      'shop_web.1 (r/web:v3): ended (Complete 3 seconds ago) before its update was accepted',
    ]);
    expect(failedTask(quiet, `r/web:v3@${DIGEST}`)?.ID).toBe('t2');
  });

  it('reads the pinned image and its digest reference from a spec', () => {
    expect(specImage({ ID: 'x', Spec: { TaskTemplate: { ContainerSpec: { Image: `reg:5000/a/web:v2@${DIGEST}` } } } })).toEqual({
      image: `reg:5000/a/web:v2@${DIGEST}`,
      digest: `reg:5000/a/web@${DIGEST}`,
    });
    expect(specImage({ ID: 'x', Spec: { TaskTemplate: { ContainerSpec: { Image: 'postgres:16' } } } })).toEqual({ image: 'postgres:16' });
    // A registry's port is not a tag.
    expect(digestReference(`reg:5000/a/web@${DIGEST}`)).toBe(`reg:5000/a/web@${DIGEST}`);
    expect(digestReference('reg:5000/a/web:v2')).toBeUndefined();
  });
});

describe('swarm argv and steps', () => {
  it('builds the stack commands', () => {
    expect(stackDeploy('/s/stack.yaml', 'shop')).toEqual([
      'docker',
      'stack',
      'deploy',
      '--with-registry-auth',
      '--compose-file',
      '/s/stack.yaml',
      'shop',
    ]);
    expect(stackDeploy('/s/stack.yaml', 'shop', { detachFlag: true })).toContain('--detach=true');
    expect(stackServices('shop')).toEqual([
      'docker',
      'service',
      'ls',
      '--filter',
      'label=com.docker.stack.namespace=shop',
      '--format',
      '{{json .}}',
    ]);
    expect(serviceInspect(['shop_web'])).toEqual(['docker', 'service', 'inspect', 'shop_web']);
    expect(servicePs('shop_web')).toEqual(['docker', 'service', 'ps', '--no-trunc', '--format', '{{json .}}', 'shop_web']);
    expect(servicePs('shop_web', { running: true })).toEqual([
      'docker',
      'service',
      'ps',
      '--no-trunc',
      '--filter',
      'desired-state=running',
      '--format',
      '{{json .}}',
      'shop_web',
    ]);
    expect(taskContainersHere('shop', 'proxy')).toEqual([
      'docker',
      'ps',
      '--filter',
      'label=com.docker.swarm.service.name=shop_proxy',
      '--filter',
      'status=running',
      '--format',
      '{{.ID}}',
    ]);
    expect(stackContainersHere('shop')).toEqual(['docker', 'ps', '--all', '--quiet', '--filter', 'label=com.docker.stack.namespace=shop']);
    expect(swarmState()).toEqual(['docker', 'info', '--format', '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}']);
  });

  it('asks the Engine API the questions a follow repeats', () => {
    const filters = (path: string) => JSON.parse(decodeURIComponent(new URL(path, 'http://engine').searchParams.get('filters') ?? ''));
    expect(engineStackServicesPath('shop')).toMatch(/^\/services\?filters=/);
    expect(filters(engineStackServicesPath('shop'))).toEqual({ label: ['com.docker.stack.namespace=shop'] });
    expect(filters(engineTasksPath('shop_web'))).toEqual({ service: ['shop_web'] });
    expect(filters(engineTasksPath('shop_web', { running: true }))).toEqual({ service: ['shop_web'], 'desired-state': ['running'] });
    expect(engineTaskContainersPath('shop', 'proxy')).toMatch(/^\/containers\/json\?filters=/);
    expect(filters(engineTaskContainersPath('shop', 'proxy'))).toEqual({
      label: ['com.docker.swarm.service.name=shop_proxy'],
      status: ['running'],
    });
  });

  it("keeps the compose path's preflight and record hooks, and swaps plan, pull and switch on a swarm", () => {
    const compose = deployPhases('compose');
    const swarm = deployPhases('swarm');
    expect(swarm.preflight).toBe(compose.preflight);
    expect(swarm.plan.map((s) => s.id)).toEqual(['plan']);
    expect(swarm.switch.map((s) => s.id)).toEqual([
      'render',
      'migrate',
      'stack-deploy',
      'follow',
      'smoke',
      'afterDeploy',
      'afterRollback',
      'record',
    ]);
    expect(deployPhases().switch.map((s) => s.id)).toContain('switch');
  });
});

describe('status on a swarm', () => {
  const D1 = `sha256:${'1'.repeat(64)}`;
  const D2 = `sha256:${'2'.repeat(64)}`;
  const record = (tag: string, digest: string, extra: Partial<ReleaseRecord> = {}) =>
    ({
      tag,
      time: `2026-11-28T10:0${tag.slice(1)}:00Z`,
      who: 'ana',
      kind: 'deploy',
      result: 'ok',
      services: { web: { image: `reg:5000/shop-web:${tag}@${digest}`, digest: `reg:5000/shop-web@${digest}` } },
      ...extra,
    }) as unknown as ReleaseRecord;
  const service = (digest: string, replicas = 1): SwarmService =>
    ({
      ID: 's',
      Spec: {
        Name: 'shop_web',
        TaskTemplate: { ContainerSpec: { Image: `reg:5000/shop-web:v2@${digest}` } },
        Mode: { Replicated: { Replicas: replicas } },
      },
    }) as SwarmService;
  const task = (digest: string, state = 'Running 2 minutes ago', node = 'vm1') =>
    taskStatus(
      {
        ID: 't1',
        Name: 'shop_web.1',
        Image: `reg:5000/shop-web:v2@${digest}`,
        Node: node,
        DesiredState: 'Running',
        CurrentState: state,
        Error: '',
      },
      'healthy',
    );

  it('reads a task: its node, its state and the digest it runs', () => {
    expect(task(D2)).toEqual({
      id: 't1',
      name: 'shop_web.1',
      node: 'vm1',
      state: 'Running 2 minutes ago',
      image: `reg:5000/shop-web:v2@${D2}`,
      digest: `reg:5000/shop-web@${D2}`,
      health: 'healthy',
    });
  });

  it('joins the spec, the tasks and the ledger: since when the digest runs, and whether it is the recorded one', () => {
    const records = [record('v1', D1), record('v2', D2), record('v2', D2, { kind: 'auto-rollback' })];
    const status = swarmServiceStatus({ name: 'web', kind: 'http' }, service(D2), [task(D2)], records);
    expect(status).toMatchObject({
      state: 'running',
      health: 'healthy',
      tag: 'v2',
      digest: `reg:5000/shop-web@${D2}`,
      replicas: '1/1',
      release: 'v2',
      deployKind: 'deploy',
      matchesLedger: true,
    });
    // A task of another digest (Swarm rolled back by hand, say) differs from the ledger.
    expect(swarmServiceStatus({ name: 'web', kind: 'http' }, service(D2, 2), [task(D2), task(D1)], records)).toMatchObject({
      replicas: '2/2',
      matchesLedger: false,
    });
    expect(swarmServiceStatus({ name: 'web', kind: 'http' }, service(D2, 2), [task(D2)], records)).toMatchObject({
      replicas: '1/2',
      matchesLedger: false,
    });
    expect(swarmServiceStatus({ name: 'web', kind: 'http' }, undefined, [], records)).toMatchObject({
      state: 'missing',
      matchesLedger: false,
    });
    // Tasks on other nodes: no container here to ask. Running means an http service's check passed;
    // a worker's health is not known.
    const elsewhere = { ...task(D2), health: undefined };
    expect(swarmServiceStatus({ name: 'web', kind: 'http' }, service(D2), [elsewhere], records).health).toBe('healthy');
    expect(swarmServiceStatus({ name: 'jobs', kind: 'worker' }, service(D2), [elsewhere], records).health).toBe('none');
    // One here that is unhealthy says so whatever runs elsewhere.
    expect(
      swarmServiceStatus({ name: 'web', kind: 'http' }, service(D2, 2), [elsewhere, { ...task(D2), health: 'unhealthy' }], records).health,
    ).toBe('unhealthy');
  });

  it('prints a line per task under its service', () => {
    const lines = formatTasks({ ...swarmServiceStatus({ name: 'web', kind: 'http' }, service(D2), [task(D2)], []) });
    expect(lines).toEqual([expect.stringMatching(/^ {4}task shop_web\.1 +on vm1 +Running 2 minutes ago +222222222222 {2}healthy$/)]);
  });
});

describe('a migration on a swarm', () => {
  it('runs from the pinned image with the service environment, on its first network of the stack', () => {
    const stack = {
      services: { web: { image: 'r/web:v2@sha256:x', environment: { A: '1', EMPTY: null }, networks: { back: null, default: null } } },
      networks: { back: { name: 'shop_back', driver: 'overlay' }, default: {} },
    };
    expect(migrationOf(stack, 'shop', 'web', ['migrate'])).toEqual({
      image: 'r/web:v2@sha256:x',
      network: 'shop_back',
      create: true,
      unsupported: [],
      env: ['A=1', 'EMPTY='],
      command: ['migrate'],
    });
    // Compose v1 lists neither the service's networks nor the default network's name.
    expect(migrationOf({ services: { web: { image: 'i', environment: ['B=2'] } } }, 'shop', 'web', ['m'])).toMatchObject({
      network: 'shop_default',
      env: ['B=2'],
    });
    expect(
      migrationOf(
        { services: { web: { image: 'i', networks: ['edge'] } }, networks: { edge: { external: true, name: 'edge' } } },
        'shop',
        'web',
        ['m'],
      ),
    ).toMatchObject({ network: 'edge', create: false });
    const withSubnet = {
      services: { web: { image: 'i' } },
      networks: { default: { driver: 'overlay', ipam: { config: [{ subnet: '10.9.0.0/24' }] } } },
    };
    expect(migrationOf(withSubnet, 'shop', 'web', ['m'])).toMatchObject({ create: true, unsupported: ['ipam'] });
    expect(() => migrationOf({ services: { web: { environment: { KEY: 'a\nb' } } } }, 'shop', 'web', ['m'])).toThrow(
      /KEY spans several lines/,
    );
  });

  it('builds the one-off run and the network a first deploy needs', () => {
    expect(
      oneOffRun({
        image: 'i@sha256:x',
        network: 'shop_default',
        envFile: '/s/migrate.env',
        command: ['sh', '-c', 'x'],
        label: 'berth.migrate=shop',
      }),
    ).toEqual([
      'docker',
      'run',
      '--rm',
      '--label',
      'berth.migrate=shop',
      '--network',
      'shop_default',
      '--env-file',
      '/s/migrate.env',
      'i@sha256:x',
      'sh',
      '-c',
      'x',
    ]);
    expect(networkInspect('shop_default')).toEqual(['docker', 'network', 'inspect', '--format', '{{.Name}}', 'shop_default']);
    expect(stackNetworkCreate('shop_default', 'shop')).toEqual([
      'docker',
      'network',
      'create',
      '--driver',
      'overlay',
      '--attachable',
      '--label',
      'com.docker.stack.namespace=shop',
      'shop_default',
    ]);
  });
});
