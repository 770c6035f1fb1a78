// The swarm bench's task-address technique: what it writes for Caddy and what it reads of Swarm.
// A wrong reading would point Caddy at nothing (every request a 502), so the readers refuse.
import { describe, expect, it } from 'vitest';
import {
  containerHealth,
  otherSlot,
  renderTasksCaddyfile,
  renderUpstreams,
  runningTaskId,
  serviceContainersHere,
  slotServiceCreate,
  slotServiceName,
  taskAttachment,
} from '../../scripts/bench/support/task-upstreams.mts';

const task = (overrides: Record<string, unknown> = {}) => ({
  ID: 'task1',
  Status: { State: 'running', ContainerStatus: { ContainerID: 'c0ffee' } },
  NetworksAttachments: [
    { Network: { Spec: { Name: 'ingress' } }, Addresses: ['10.0.0.9/24'] },
    { Network: { Spec: { Name: 'shop_net' } }, Addresses: ['fd00::5/64', '10.64.1.7/24'] },
  ],
  ...overrides,
});

describe('renderUpstreams', () => {
  it('is one reverse_proxy directive to every address on the port, with its try duration', () => {
    expect(renderUpstreams(['10.64.1.7'], 8080, '5s')).toBe('reverse_proxy 10.64.1.7:8080 {\n\tlb_try_duration 5s\n}\n');
    expect(renderUpstreams(['10.64.1.7', '10.64.1.8'], 80, '2s')).toContain('reverse_proxy 10.64.1.7:80 10.64.1.8:80 {');
  });

  it('refuses no address, a name or a bad port', () => {
    expect(() => renderUpstreams([], 8080, '5s')).toThrow(/no upstream address/);
    expect(() => renderUpstreams(['web'], 8080, '5s')).toThrow(/not an IPv4 address: web/);
    expect(() => renderUpstreams(['10.64.1.300'], 8080, '5s')).toThrow(/not an IPv4 address/);
    expect(() => renderUpstreams(['10.64.1.7/24'], 8080, '5s')).toThrow(/not an IPv4 address/);
    expect(() => renderUpstreams(['10.64.1.7'], 0, '5s')).toThrow(/not a port: 0/);
  });
});

describe('renderTasksCaddyfile', () => {
  it('imports the upstreams file inside the site block', () => {
    expect(renderTasksCaddyfile('/etc/caddy/upstreams/u.caddy')).toBe(
      '{\n\tauto_https off\n}\n:80 {\n\timport /etc/caddy/upstreams/u.caddy\n}\n',
    );
  });
});

describe('taskAttachment', () => {
  it('reads the container and the IPv4 address on the named network, prefix length dropped', () => {
    expect(taskAttachment(JSON.stringify([task()]), 'shop_net')).toEqual({ containerId: 'c0ffee', address: '10.64.1.7' });
    expect(taskAttachment(JSON.stringify([task()]), 'ingress').address).toBe('10.0.0.9');
  });

  it('refuses a task not running, without a container, or without an address on the network', () => {
    expect(() => taskAttachment('[]', 'shop_net')).toThrow(/no task/);
    expect(() => taskAttachment(JSON.stringify([task({ Status: { State: 'starting' } })]), 'shop_net')).toThrow(
      /task1: starting, not running/,
    );
    expect(() => taskAttachment(JSON.stringify([task({ Status: { State: 'running' } })]), 'shop_net')).toThrow(/no container/);
    expect(() => taskAttachment(JSON.stringify([task()]), 'other_net')).toThrow(/no IPv4 address on other_net/);
    const v6only = task({ NetworksAttachments: [{ Network: { Spec: { Name: 'shop_net' } }, Addresses: ['fd00::5/64'] }] });
    expect(() => taskAttachment(JSON.stringify([v6only]), 'shop_net')).toThrow(/no IPv4 address/);
  });
});

describe('runningTaskId', () => {
  const line = (id: string, desired: string, current: string) =>
    JSON.stringify({ ID: id, Name: 'shop_web-a.1', DesiredState: desired, CurrentState: current });

  it('is the task meant to run and running, not one starting or shut down', () => {
    const lines = [line('new', 'Running', 'Starting 1 second ago'), line('old', 'Shutdown', 'Running 3 seconds ago')].join('\n');
    expect(runningTaskId(lines)).toBeUndefined();
    expect(runningTaskId(`${line('new', 'Running', 'Running 1 second ago')}\n${line('old', 'Shutdown', 'Shutdown 1 second ago')}\n`)).toBe(
      'new',
    );
    expect(runningTaskId('')).toBeUndefined();
  });
});

describe('containerHealth', () => {
  it('is the health status, or none for an image without a healthcheck', () => {
    expect(containerHealth(JSON.stringify([{ State: { Health: { Status: 'healthy' } } }]))).toBe('healthy');
    expect(containerHealth(JSON.stringify([{ State: { Health: { Status: 'starting' } } }]))).toBe('starting');
    expect(containerHealth(JSON.stringify([{ State: {} }]))).toBe('none');
  });
});

describe('slots', () => {
  it('alternate, each a service of the stack on its overlay, dnsrr, detached', () => {
    expect(otherSlot('a')).toBe('b');
    expect(otherSlot('b')).toBe('a');
    expect(slotServiceName('shop', 'b')).toBe('shop_web-b');
    const argv = slotServiceCreate({ name: 'shop_web-b', image: 'reg:5000/web:v2', network: 'shop_net', stack: 'shop' });
    expect(argv.slice(0, 3)).toEqual(['docker', 'service', 'create']);
    expect(argv.at(-1)).toBe('reg:5000/web:v2');
    for (const [flag, value] of [
      ['--name', 'shop_web-b'],
      ['--network', 'shop_net'],
      ['--endpoint-mode', 'dnsrr'],
      ['--label', 'com.docker.stack.namespace=shop'],
    ])
      expect(argv[argv.indexOf(flag as string) + 1], flag).toBe(value);
    expect(argv).toContain('--detach');
  });

  it("finds a slot's running containers, or with all its stopped ones too", () => {
    const filter = ['--filter', 'label=com.docker.swarm.service.name=shop_web-a'];
    expect(serviceContainersHere('shop_web-a')).toEqual(['docker', 'ps', '--quiet', ...filter]);
    expect(serviceContainersHere('shop_web-a', { all: true })).toEqual(['docker', 'ps', '--all', '--quiet', ...filter]);
  });
});
