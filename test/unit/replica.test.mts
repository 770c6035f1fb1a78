// The docker argv for a new replica, from both Compose flavours' `config` output.
import { describe, expect, it } from 'vitest';
import type { ReplicaInput } from '../../lib/deploy/replica/draft.mts';
import { restartPolicy } from '../../lib/deploy/replica/keys.mts';
import { replicaPlan } from '../../lib/deploy/replica/translate.mts';
import { durationSeconds, splitWords } from '../../lib/deploy/replica/values.mts';
import { configDigest } from '../../lib/deploy/replica/labels.mts';

const input = (config: ReplicaInput['config'], over: Partial<ReplicaInput> = {}): ReplicaInput => ({
  flavour: { name: 'v1', version: '1.29.2' },
  project: 'shop',
  service: 'web',
  config,
  top: {},
  number: 3,
  envFile: '/state/shop/web.env',
  projectLabels: { 'com.docker.compose.project.working_dir': '/srv/shop', 'com.docker.compose.container-number': '1' },
  ...over,
});

const plan = (config: ReplicaInput['config'], over: Partial<ReplicaInput> = {}) => {
  const result = replicaPlan(input(config, over));
  if (!result.ok) throw new Error(`unsupported: ${result.unsupported.join(', ')}`);
  return result.plan;
};

describe('replica argv', () => {
  it('one network: a single docker run with Compose labels, environment in a file, the image and its command last', () => {
    const p = plan({
      image: 'r/web:abc',
      environment: { PORT: '8080', UNSET: null },
      command: 'sh -c \'echo "hi there"\'',
      restart: 'unless-stopped',
    });
    expect(p.name).toBe('shop_web_3');
    expect(p.envFileText).toBe('PORT=8080\n');
    expect(p.networks).toEqual(['shop_default']);
    const [run, ...rest] = p.commands;
    expect(rest).toEqual([]);
    const hash = run?.find((a) => a.startsWith('com.docker.compose.config-hash='));
    expect(run).toEqual([
      'docker',
      'run',
      '--detach',
      '--name',
      'shop_web_3',
      '--pull',
      'never',
      '--env-file',
      '/state/shop/web.env',
      '--label',
      'com.docker.compose.project.working_dir=/srv/shop',
      '--label',
      'com.docker.compose.project=shop',
      '--label',
      'com.docker.compose.service=web',
      '--label',
      'com.docker.compose.oneoff=False',
      '--label',
      'com.docker.compose.container-number=3',
      '--label',
      'com.docker.compose.version=1.29.2',
      '--label',
      hash,
      '--label',
      `berth.config-digest=${configDigest({ image: 'r/web:abc', environment: { PORT: '8080', UNSET: null }, command: 'sh -c \'echo "hi there"\'', restart: 'unless-stopped' })}`,
      '--restart',
      'unless-stopped',
      '--network',
      'shop_default',
      '--network-alias',
      'web',
      'r/web:abc',
      'sh',
      '-c',
      'echo "hi there"',
    ]);
  });

  it('several networks: create, connect the others with their aliases, then start; v2 names and long syntax', () => {
    const p = plan(
      {
        image: 'r/web:abc',
        entrypoint: ['/bin/tini', '--'],
        command: ['serve', '--port', '8080'],
        networks: { front: { aliases: ['www'] }, back: null },
        volumes: [
          { type: 'volume', source: 'data', target: '/data', volume: { nocopy: true } },
          { type: 'bind', source: '/srv/shop/conf', target: '/conf', read_only: true, bind: { create_host_path: true } },
          { type: 'tmpfs', target: '/run' },
        ],
        ports: [{ mode: 'ingress', target: 8080, protocol: 'tcp' }],
        healthcheck: { test: ['CMD-SHELL', 'wget -q -O- localhost:8080/healthz'], interval: '2s', start_period: '500ms' },
        deploy: { resources: { limits: { memory: '64m', cpus: '0.5' } }, replicas: 1 },
        stop_grace_period: '1m30s',
        logging: { driver: 'json-file', options: { 'max-size': '10m' } },
      },
      {
        flavour: { name: 'v2', version: '2.29.0' },
        top: {
          networks: { front: { name: 'shop_front' }, back: { name: 'shared', external: true } },
          volumes: { data: { name: 'shop_data' } },
        },
      },
    );
    expect(p.name).toBe('shop-web-3');
    expect(p.networks).toEqual(['shop_front', 'shared']);
    expect(p.volumes).toEqual(['shop_data']);
    expect(p.envFileText).toBe('');
    const [create, connect, start] = p.commands;
    expect(create?.slice(0, 2)).toEqual(['docker', 'create']);
    expect(create).not.toContain('--env-file');
    expect(create?.join(' ')).toContain(
      '--stop-timeout 90 --memory 64m --cpus 0.5 --log-driver json-file --log-opt max-size=10m --health-cmd wget -q -O- localhost:8080/healthz --health-interval 2s --health-start-period 500ms --publish 8080 --volume shop_data:/data:nocopy --volume /srv/shop/conf:/conf:ro --tmpfs /run',
    );
    // --entrypoint takes one word: the rest of the entrypoint leads the command, the same argv.
    // v2 gives the container its own name as an alias on each network, as Compose v2 does.
    expect(create?.slice(-15)).toEqual([
      '--entrypoint',
      '/bin/tini',
      '--network',
      'shop_front',
      '--network-alias',
      'shop-web-3',
      '--network-alias',
      'web',
      '--network-alias',
      'www',
      'r/web:abc',
      '--',
      'serve',
      '--port',
      '8080',
    ]);
    expect(connect).toEqual(['docker', 'network', 'connect', '--alias', 'shop-web-3', '--alias', 'web', 'shared', 'shop-web-3']);
    expect(start).toEqual(['docker', 'start', 'shop-web-3']);
  });

  it("labels with Compose's own config hash when given; v2 also gets the image id and depends_on labels", () => {
    const labels = (over: Partial<ReplicaInput>) =>
      (
        plan(
          {
            image: 'r/web:abc',
            depends_on: { db: { condition: 'service_healthy', restart: true }, cache: { condition: 'service_started' } },
          },
          over,
        ).commands[0] ?? []
      ).filter((a, i, all) => all[i - 1] === '--label' && /config-hash|compose\.image|depends_on/.test(a));
    const hash = 'a'.repeat(64);
    expect(labels({ configHash: hash, imageId: 'sha256:1234' })).toEqual([`com.docker.compose.config-hash=${hash}`]);
    expect(labels({ flavour: { name: 'v2', version: '2.31.0' }, configHash: hash, imageId: 'sha256:1234' })).toEqual([
      `com.docker.compose.config-hash=${hash}`,
      'com.docker.compose.depends_on=cache:service_started:false,db:service_healthy:true',
      'com.docker.compose.image=sha256:1234',
    ]);
    // No hash asked (v1): berth's own digest, which a manual `compose up` does not recognise.
    expect(labels({})[0]).toMatch(/^com\.docker\.compose\.config-hash=[0-9a-f]{64}$/);
    expect(labels({})[0]).not.toBe(`com.docker.compose.config-hash=${hash}`);
  });

  it("turns config's escaped $$ back into the one $ Compose gives the container", () => {
    const p = plan({
      image: 'r/web:abc',
      environment: { PRICE: '$$5 and $${HOME}' },
      command: ['sh', '-c', 'echo $$HOME'],
      labels: { cost: '$$1' },
    });
    expect(p.envFileText).toBe('PRICE=$5 and ${HOME}\n');
    expect(p.commands[0]?.slice(-3)).toEqual(['sh', '-c', 'echo $HOME']);
    expect(p.commands[0]).toContain('cost=$1');
  });

  it('says every key it cannot start the same way, so Compose does it', () => {
    const result = replicaPlan(
      input({
        image: 'r/web:abc',
        links: ['db'],
        network_mode: 'host',
        healthcheck: { test: ['CMD', 'curl', '-f', 'http://localhost'] },
        ports: ['127.0.0.1:8080:8080/tcp'],
        networks: { default: { ipv4_address: '10.0.0.9' } },
        environment: { MULTI: 'a\nb' },
        deploy: { resources: { limits: { memory: '64m' } } },
        mem_limit: '32m',
        'x-berth': { ignored: true },
        depends_on: ['db'],
      }),
    );
    expect(result).toEqual({
      ok: false,
      unsupported: [
        'links',
        'network_mode',
        'environment.MULTI (a value on several lines)',
        'memory limit (set twice, differently)',
        'healthcheck.test (exec form)',
        'ports (a fixed host port)',
        'networks.default.ipv4_address',
      ],
    });
  });

  it('disables the image healthcheck, passes user, init, caps and extra hosts of both list syntaxes', () => {
    const run = plan({
      image: 'r/web:abc',
      healthcheck: { disable: true },
      user: '1000:1000',
      init: true,
      read_only: true,
      cap_drop: ['ALL'],
      extra_hosts: ['db:10.0.0.7', 'v6=::1'],
      labels: ['team=ops'],
      tmpfs: '/tmp',
    }).commands[0]?.join(' ');
    expect(run).toContain('--label team=ops');
    expect(run).not.toContain('--restart');
    expect(run).toContain(
      '--user 1000:1000 --init --read-only --cap-drop ALL --add-host db:10.0.0.7 --add-host v6:::1 --no-healthcheck --tmpfs /tmp',
    );
  });
});

describe('the restart policy of a replica berth starts', () => {
  it("is the one Compose gives the service's containers, so the replica comes back after a reboot", () => {
    const runOf = (config: ReplicaInput['config'], flavour: 'v1' | 'v2' = 'v2') =>
      plan(
        { image: 'r/web:abc', ...config },
        { flavour: { name: flavour, version: flavour === 'v1' ? '1.29.2' : '2.31.0' } },
      ).commands[0]?.join(' ') ?? '';
    expect(runOf({ restart: 'unless-stopped' })).toContain('--restart unless-stopped');
    expect(runOf({ restart: 'always', deploy: { restart_policy: { condition: 'on-failure', max_attempts: 3 } } })).toContain(
      '--restart on-failure:3',
    );
    expect(runOf({ deploy: { restart_policy: { condition: 'any' } } })).toContain('--restart always');
    expect(runOf({ deploy: { restart_policy: { condition: 'none' } } })).toContain('--restart no');
    expect(runOf({ deploy: { restart_policy: { condition: 'on-failure' } } })).toContain('--restart on-failure ');
  });

  it('follows each flavour where they differ: a restart_policy without a condition', () => {
    expect(restartPolicy({ deploy: { restart_policy: {} } }, 'v1')).toBe('always');
    expect(restartPolicy({ deploy: { restart_policy: {} } }, 'v2')).toBeUndefined();
    expect(restartPolicy({}, 'v2')).toBeUndefined();
  });
});

describe('compose value parsing', () => {
  it('splits a string command like a POSIX shell', () => {
    expect(splitWords(`sh -c 'exec "$0"' a\\ b "c \\"d\\"" ''`)).toEqual(['sh', '-c', 'exec "$0"', 'a b', 'c "d"', '']);
    expect(() => splitWords("echo 'open")).toThrow(/unbalanced/);
  });

  it('reads Compose durations in whole seconds', () => {
    expect(durationSeconds('1m30s')).toBe(90);
    expect(durationSeconds('500ms')).toBe(1);
    expect(durationSeconds(10)).toBe(10);
    expect(durationSeconds('1h')).toBe(3600);
    expect(durationSeconds('soon')).toBeUndefined();
  });
});
