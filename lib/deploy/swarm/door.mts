// The front door on a swarm, switched by berth rather than by Swarm's rolling update. Swarm alone
// serves old and new together for ~1.1 s: the new task joins the service's DNS once healthy, the
// old one leaves it just after. berth keeps that window closed the way it does on one VM:
//  - every routed http service's tasks carry a network alias of their release (`web-<digest12>`),
//    and berth's upstream file tells the product's Caddy to look up only that alias (`dynamic a`),
//    which follows Swarm's own healing between deploys;
//  - before an update, the file pins the old tasks' addresses (a reload), so Swarm's DNS changes
//    reach nobody; Swarm's agent takes a replaced task out of DNS, waits 2 s (its gossip delay,
//    moby's container controller), and only then sends it its stop signal, so the pinned old task
//    still answers while the new one becomes healthy;
//  - once every new task runs (healthy), the file names the new tasks by address (a reload): the
//    switch is one config change, old to new, with no moment serving both;
//  - when Swarm has completed the update, the file names the new release's alias (a reload): by
//    then Swarm's DNS lists it (it may not at the moment a task is reported running).
// A product whose proxy does not mount berth's upstream directory keeps Swarm's own switch.
import type { ContainerState } from '../../engine/engine.mts';
import type { Product } from '../../config/load.mts';
import type { ComposeServiceView as ComposeService } from '../context.mts';
import { UPSTREAMS_IN_CONTAINER } from '../proxy.mts';

/** A service berth switches itself on a swarm: the port Caddy dials and the alias of the release. */
export interface DoorService {
  service: string;
  port: number;
  alias: string;
}

/** A task as `docker inspect --type task` shows the parts read here. */
export interface InspectedTask {
  ID: string;
  DesiredState?: string;
  Status?: { State?: string };
  Spec?: { ContainerSpec?: { Image?: string }; Networks?: { Target?: string; Aliases?: string[] }[] };
  NetworksAttachments?: { Network?: { Spec?: { Name?: string } }; Addresses?: string[] }[];
}

/** The alias a release's tasks answer to: the service and its image digest, short. */
export function releaseAlias(service: string, image: string): string {
  const digest = /@sha256:([0-9a-f]{12})/.exec(image)?.[1];
  return digest ? `${service}-${digest}` : service;
}

/** Whether a compose view of the proxy mounts a host directory at Caddy's upstream directory. */
export function mountsUpstreams(proxy: ComposeService | undefined): boolean {
  const volumes = (proxy?.volumes as unknown[] | undefined) ?? [];
  return volumes.some((volume) => {
    if (typeof volume === 'string') return volume.split(':')[1] === UPSTREAMS_IN_CONTAINER;
    return (volume as { target?: string } | null)?.target === UPSTREAMS_IN_CONTAINER;
  });
}

/** The services berth switches at the front door: http services with a health port, pinned by
 *  digest, when the product's proxy reads berth's upstream files. */
export function doorServices(
  product: Pick<Product, 'services'>,
  view: Record<string, ComposeService>,
  images: Record<string, string>,
): DoorService[] {
  const proxy = Object.values(product.services).find((s) => s.kind === 'proxy')?.name;
  if (!proxy || !mountsUpstreams(view[proxy])) return [];
  return Object.values(product.services).flatMap((s) => {
    const image = images[s.name];
    const port = s.health?.port;
    if (s.kind !== 'http' || !image || !port || !view[s.name]) return [];
    return [{ service: s.name, port, alias: releaseAlias(s.name, image) }];
  });
}

/** The compose `networks:` of a service with `alias` added on each (v1 leaves out the default one). */
export function withAlias(networks: unknown, alias: string): Record<string, unknown> {
  const add = (value: unknown) => {
    const given = (value ?? {}) as { aliases?: string[] };
    return { ...given, aliases: [...new Set([...(given.aliases ?? []), alias])] };
  };
  if (networks === undefined) return { default: add(undefined) };
  if (Array.isArray(networks)) return Object.fromEntries(networks.map((name) => [String(name), add(undefined)]));
  return Object.fromEntries(Object.entries(networks as Record<string, unknown>).map(([name, value]) => [name, add(value)]));
}

/** `ip:port` of each running task, on a network the proxy's task is on too. */
export function taskAddresses(tasks: InspectedTask[], proxyNetworks: Set<string>, port: number): string[] {
  return tasks.flatMap((task) => {
    if (task.DesiredState !== 'running' || task.Status?.State !== 'running') return [];
    const attachment = (task.NetworksAttachments ?? []).find((a) => proxyNetworks.has(a.Network?.Spec?.Name ?? ''));
    const address = attachment?.Addresses?.[0]?.split('/')[0];
    return address ? [`${address}:${port}`] : [];
  });
}

/** Whether a task was created from a spec that gives it this alias: a task of that release. */
export function answersTo(task: InspectedTask, alias: string): boolean {
  return (task.Spec?.Networks ?? []).some((network) => network.Aliases?.includes(alias));
}

/** The networks a container is attached to, by name: where the proxy can dial. */
export function networksOf(container: ContainerState): Set<string> {
  return new Set(Object.keys(container.networks));
}
