// Local images as the engine has them: their ID, the registry digests they are known by and their
// labels, read through the Engine API when the CLI's engine is on its socket.
import { dockerImageInspect } from '../commands/docker.mts';
import type { Runner } from '../core/runner.mts';

interface ImageJson {
  Id: string;
  RepoDigests?: string[] | null;
  Config?: { Labels?: Record<string, string> | null; Healthcheck?: { Test?: string[] | null } | null } | null;
}

/** A local image's id, registry digests and labels, or undefined when it is not local. */
async function inspectImage(runner: Runner, ref: string): Promise<ImageJson | undefined> {
  const answer = await runner.engine?.(`/images/${ref}/json`);
  if (answer?.status === 200) return answer.body as ImageJson;
  if (answer?.status === 404) return undefined;
  const result = await runner.probe(dockerImageInspect(ref));
  if (result.exitCode !== 0) return undefined;
  try {
    return (JSON.parse(result.stdout) as ImageJson[])[0];
  } catch {
    return undefined;
  }
}

/** The OCI label naming the commit an image was built from (berth's build sets it to the release tag). */
export const REVISION_LABEL = 'org.opencontainers.image.revision';

/** The labels of a local image (by reference or ID), or undefined when it is not local. */
export async function localImageLabels(runner: Runner, ref: string): Promise<Record<string, string> | undefined> {
  const image = await inspectImage(runner, ref);
  return image ? (image.Config?.Labels ?? {}) : undefined;
}

/** The registry digests (repo@sha256:...) a local image is known by. */
export async function imageRepoDigests(runner: Runner, ref: string): Promise<string[]> {
  return (await inspectImage(runner, ref))?.RepoDigests ?? [];
}

/** The local image ID of a reference, or undefined when it is not local. */
export async function localImageId(runner: Runner, ref: string): Promise<string | undefined> {
  return (await inspectImage(runner, ref))?.Id;
}

/** Whether a local image defines a HEALTHCHECK (not one that says NONE); undefined when it is not local. */
export async function imageHasHealthcheck(runner: Runner, ref: string): Promise<boolean | undefined> {
  const image = await inspectImage(runner, ref);
  if (!image) return undefined;
  const test = image.Config?.Healthcheck?.Test ?? [];
  return test.length > 0 && test[0] !== 'NONE';
}
