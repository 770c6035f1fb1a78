import { describe, expect, it } from 'vitest';
import {
  answersTo,
  doorServices,
  mountsUpstreams,
  releaseAlias,
  taskAddresses,
  withAlias,
  type InspectedTask,
} from '../../lib/deploy/swarm/door.mts';
import { renderStack } from '../../lib/deploy/swarm/stack-file.mts';
import type { Product } from '../../lib/config/load.mts';

const D1 = `sha256:${'a1b2c3d4e5f6'.padEnd(64, '0')}`;
const D2 = `sha256:${'0f0e0d0c0b0a'.padEnd(64, '9')}`;
const services = {
  proxy: { name: 'proxy', kind: 'proxy', repository: 'reg/caddy' },
  web: { name: 'web', kind: 'http', repository: 'reg/web', health: { path: '/healthz', port: 8080 } },
  worker: { name: 'worker', kind: 'worker', repository: 'reg/worker' },
} as unknown as Product['services'];
const images = { web: `reg/web:v2@${D2}`, worker: `reg/worker:v2@${D1}` };
const v2Proxy = {
  image: 'caddy',
  volumes: [{ type: 'bind', source: '/state/shop/upstreams', target: '/etc/caddy/upstreams', read_only: true }],
};

describe('the front door on a swarm, switched by berth', () => {
  it('names a release by its service and the first 12 hex digits of its digest', () => {
    expect(releaseAlias('web', `reg/web:v2@${D2}`)).toBe('web-0f0e0d0c0b0a');
    // No digest, no release to name: the service name, which resolves to whatever runs.
    expect(releaseAlias('web', 'reg/web:v2')).toBe('web');
  });

  it("switches only when the proxy mounts berth's upstream directory, in either flavour's config", () => {
    expect(mountsUpstreams(v2Proxy)).toBe(true);
    expect(mountsUpstreams({ volumes: ['/state/shop/upstreams:/etc/caddy/upstreams:ro'] })).toBe(true);
    expect(mountsUpstreams({ volumes: ['./Caddyfile:/etc/caddy/Caddyfile:ro'] })).toBe(false);
    expect(mountsUpstreams(undefined)).toBe(false);
  });

  it('switches each http service with a health port, and nothing for a proxy that does not read the files', () => {
    const view = { proxy: v2Proxy, web: { image: 'x' }, worker: { image: 'y' } };
    expect(doorServices({ services }, view, images)).toEqual([{ service: 'web', port: 8080, alias: 'web-0f0e0d0c0b0a' }]);
    expect(doorServices({ services }, { ...view, proxy: { image: 'caddy' } }, images)).toEqual([]);
    expect(doorServices({ services }, view, { worker: images.worker })).toEqual([]);
  });

  it('adds the alias on every network of the service, keeping its other aliases', () => {
    expect(withAlias(undefined, 'web-1')).toEqual({ default: { aliases: ['web-1'] } });
    expect(withAlias(['front', 'back'], 'web-1')).toEqual({ front: { aliases: ['web-1'] }, back: { aliases: ['web-1'] } });
    expect(withAlias({ default: null, back: { aliases: ['api'], ipv4_address: '10.0.0.5' } }, 'web-1')).toEqual({
      default: { aliases: ['web-1'] },
      back: { aliases: ['api', 'web-1'], ipv4_address: '10.0.0.5' },
    });
  });

  it('renders the alias into the stack file for the services it is given', () => {
    const config = { services: { proxy: v2Proxy, web: { image: 'x', healthcheck: { test: ['CMD', 'true'] } } } };
    const { stack } = renderStack({
      product: { services, projectName: 'shop' },
      config,
      images,
      monitorSeconds: 3,
      aliases: { web: 'web-0f0e0d0c0b0a' },
    });
    expect(stack.services?.web?.networks).toEqual({ default: { aliases: ['web-0f0e0d0c0b0a'] } });
    expect(stack.services?.proxy?.networks).toBeUndefined();
    expect(stack.networks?.default).toMatchObject({ driver: 'overlay', attachable: true });
  });

  const task = (id: string, state: string, alias: string, address?: string, network = 'shop_default'): InspectedTask => ({
    ID: id,
    DesiredState: 'running',
    Status: { State: state },
    Spec: { ContainerSpec: { Image: `reg/web:v@${D1}` }, Networks: [{ Target: 'n1', Aliases: [alias] }] },
    NetworksAttachments: address ? [{ Network: { Spec: { Name: network } }, Addresses: [`${address}/24`] }] : [],
  });

  it('pins running tasks by their address on a network the proxy is on', () => {
    const tasks = [
      task('a', 'running', 'web-1', '10.0.1.5'),
      task('b', 'starting', 'web-2', '10.0.1.6'),
      task('c', 'running', 'web-1', '10.9.0.2', 'shop_back'),
      { ...task('d', 'running', 'web-1', '10.0.1.7'), DesiredState: 'shutdown' },
    ];
    expect(taskAddresses(tasks, new Set(['shop_default']), 8080)).toEqual(['10.0.1.5:8080']);
    expect(taskAddresses(tasks, new Set(['shop_default', 'shop_back']), 8080)).toEqual(['10.0.1.5:8080', '10.9.0.2:8080']);
    expect(taskAddresses(tasks, new Set(['other']), 8080)).toEqual([]);
  });

  it("tells a new release's task by the alias its spec gives it", () => {
    expect(answersTo(task('a', 'running', 'web-0f0e0d0c0b0a'), 'web-0f0e0d0c0b0a')).toBe(true);
    expect(answersTo(task('a', 'running', 'web-a1b2c3d4e5f6'), 'web-0f0e0d0c0b0a')).toBe(false);
    expect(answersTo({ ID: 'x' }, 'web-0f0e0d0c0b0a')).toBe(false);
  });
});
