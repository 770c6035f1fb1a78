// The replica as the translations build it up: the input every key's translation reads, and the
// draft of flags, environment lines, mounts and networks each one adds to.
import type { ComposeFlavourName } from '../../commands/compose.mts';
import type { ComposeTopLevel } from './labels.mts';
import { asList, str } from './values.mts';

export type ComposeServiceConfig = Record<string, unknown>;

export interface ReplicaInput {
  flavour: { name: ComposeFlavourName; version: string };
  project: string;
  service: string;
  config: ComposeServiceConfig;
  top: ComposeTopLevel;
  /** The com.docker.compose.container-number of the new container. */
  number: number;
  /** Where the caller writes `envFileText` before running the commands (values stay off argv). */
  envFile: string;
  /** Project labels Compose put on the running replica (working_dir, config_files, ...). */
  projectLabels: Record<string, string>;
  /** Compose's own `config --hash` of the service, when the caller asked for it: with it a later
   *  plain `compose up` sees the container as up to date instead of recreating it. */
  configHash?: string;
  /** The local image id the replica runs (v2 labels it, and recreates a container whose label differs). */
  imageId?: string;
}

/** The replica as the translations build it up. */
export interface Draft {
  input: ReplicaInput;
  config: ComposeServiceConfig;
  /** The replica container's name. */
  name: string;
  flags: string[];
  unsupported: string[];
  envLines: string[];
  volumes: string[];
  endpoints: { network: string; aliases: string[] }[];
  /** Process arguments after the image (the rest of the entrypoint, then the command). */
  args: string[];
}

export const flag = (d: Draft, option: string, value: unknown) => {
  if (value !== undefined && value !== null && value !== '') d.flags.push(option, str(value));
};
export const eachFlag = (option: string, key: string) => (d: Draft) => {
  for (const value of asList(d.config[key])) flag(d, option, value);
};
