// What a failed build says to the operator. The common failure on a builder without the hub is a
// base image it cannot fetch: BuildKit prints that DNS error on a step line, in the solve error
// and again in the tail, and none of them names the setting that avoids it. That one is said
// once, with the build arg (and the variable feeding it in the development view) to change.
import { CommandError, EngineError } from '../core/errors.mts';
import type { ImageBuild } from './plan.mts';

/** Errors that mean the registry's host was not reached at all (not "no such image"). */
const UNREACHABLE =
  /no such host|Temporary failure in name resolution|server misbehaving|i\/o timeout|connection refused|network is unreachable|no route to host|TLS handshake timeout|Client\.Timeout exceeded/i;

export interface UnreachableBase {
  /** The image as the builder names it, e.g. docker.io/library/busybox:1.36; undefined when it does not say. */
  image?: string;
  /** The registry host the builder tried. */
  host?: string;
  /** The builder's own words for the network failure, shortest form. */
  cause: string;
}

/** The base image a build could not fetch because its registry is unreachable, read from the output. */
export function unreachableBase(output: string): UnreachableBase | undefined {
  const line = output.split('\n').find((l) => UNREACHABLE.test(l) && /https?:\/\/|lookup |dial tcp/.test(l));
  if (!line) return undefined;
  // BuildKit: "failed to resolve source metadata for docker.io/library/busybox:1.36: ...";
  // "load metadata for docker.io/library/busybox:1.36" on the step line.
  const image =
    /failed to resolve source metadata for ([^\s:]+(?::[^\s:]+)?)/.exec(output)?.[1] ??
    /load metadata for ([^\s:]+(?::[^\s:]+)?)/.exec(output)?.[1] ??
    // The legacy builder names the FROM of the step that failed.
    /^Step \d+\/\d+ : FROM (\S+)/m.exec(output)?.[1];
  const host = /lookup ([\w.-]+)/.exec(line)?.[1] ?? /https?:\/\/([\w.-]+(?::\d+)?)/.exec(line)?.[1];
  const cause = /(dial tcp: lookup [^\n]*|dial tcp [^\n]*|lookup [^\n]*)$/.exec(line.trim())?.[1] ?? line.trim();
  return { ...(image && !image.includes('$') ? { image } : {}), ...(host ? { host } : {}), cause };
}

/** busybox:1.36 and docker.io/library/busybox:1.36 name the same image. */
export function sameImage(a: string, b: string): boolean {
  const normal = (ref: string) => {
    let r = ref.replace(/^(docker\.io|index\.docker\.io|registry-1\.docker\.io)\//, '');
    if (!r.includes('/')) r = `library/${r}`;
    r = r.replace(/^library\//, '');
    return r.includes(':') || r.includes('@') ? r : `${r}:latest`;
  };
  return normal(a) === normal(b);
}

/** The registry host of an image reference: docker.io for the hub's short names. */
export function imageHost(ref: string): string {
  const first = ref.split('/')[0] ?? '';
  return ref.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') ? first : 'docker.io';
}

/** Whether an arg's value is the image the builder could not fetch (or, when the builder did not
 *  name it, an image on the host it could not reach). */
function feeds(value: string, found: UnreachableBase): boolean {
  if (found.image) return sameImage(value, found.image);
  // Only what looks like an image reference (a tag or a path), not NODE_ENV=production.
  if (!found.host || !/^[\w.-]+(:\d+)?(\/[\w.-]+)*(:[\w.-]+)?$/.test(value) || !/[:/]/.test(value)) return false;
  const host = imageHost(value);
  return host === found.host || (host === 'docker.io' && /(^|\.)docker\.io$/.test(found.host));
}

/** The variable a build arg reads in the development view: `BASE: ${BASE_IMAGE:-busybox:1.36}` -> BASE_IMAGE. */
export function variableOfArg(composeTexts: string[], arg: string): string | undefined {
  const pattern = new RegExp(`^\\s*-?\\s*${arg}\\s*[:=]\\s*["']?\\$\\{(\\w+)`, 'm');
  for (const text of composeTexts) {
    const variable = pattern.exec(text)?.[1];
    if (variable) return variable;
  }
  return undefined;
}

/**
 * One error for a base image the builder could not reach, or undefined when the failure is
 * something else. `composeTexts`: the development view's files, to find the variable behind an arg.
 */
export function unreachableBaseError(error: CommandError, images: ImageBuild[], composeTexts: string[] = []): EngineError | undefined {
  const found = unreachableBase(error.stderr);
  if (!found) return undefined;
  const services = images.map((i) => i.service).join(', ');
  const what = found.image ? `its base image ${found.image}` : 'a base image';
  const where = found.host ? ` from ${found.host}` : '';
  const args = [
    ...new Set(
      images.flatMap((image) =>
        Object.entries(image.args)
          .filter(([, value]) => feeds(value, found))
          .map(([name]) => name),
      ),
    ),
  ];
  const settings = args.map((arg) => {
    const variable = variableOfArg(composeTexts, arg);
    return variable ? `set ${variable} (it feeds build arg ${arg})` : `pass --build-arg ${arg}=<image>`;
  });
  const fix = settings.length
    ? `this machine cannot reach it; ${settings.join(' and ')} to a copy of the image in a registry or engine this builder reaches (${found.cause})`
    : `this machine cannot reach it: give the builder access to that registry, or a registry mirror (dockerd's registry-mirrors), or make the Dockerfile's FROM a build arg (${found.cause})`;
  return new EngineError(`the build of ${services} could not fetch ${what}${where}`, { fix, cause: error });
}
