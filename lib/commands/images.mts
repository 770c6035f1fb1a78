// Pure argv builders for what rollback, status and hygiene ask about images, containers' host
// config and the disk. Like the other builders, nothing here runs anything.

/** Every local image, one JSON object per line, with full IDs and registry digests. */
export function dockerImagesJson(): string[] {
  return ['docker', 'image', 'ls', '--all', '--no-trunc', '--digests', '--format', '{{json .}}'];
}

/** Full IDs of images with no tag (the ones `docker image prune` would remove). */
export function dockerDanglingIds(): string[] {
  return ['docker', 'image', 'ls', '--no-trunc', '--quiet', '--filter', 'dangling=true'];
}

/** Every container on the engine, stopped ones included (their images cannot be removed). */
export function dockerAllContainerIds(): string[] {
  return ['docker', 'ps', '--all', '--quiet', '--no-trunc'];
}

/** `<container id>|<image id>|<compose project>` per container. */
export function dockerContainerImages(containerIds: string[]): string[] {
  return [
    'docker',
    'inspect',
    '--type',
    'container',
    '--format',
    '{{.Id}}|{{.Image}}|{{index .Config.Labels "com.docker.compose.project"}}',
    ...containerIds,
  ];
}

export function dockerImageRemove(ref: string): string[] {
  return ['docker', 'image', 'rm', ref];
}

/** Trims the build cache down to `keepBytes`; the legacy builder and buildx both take the flag. */
export function dockerBuilderPrune(keepBytes: number): string[] {
  return ['docker', 'builder', 'prune', '--force', '--keep-storage', String(keepBytes)];
}

/** The daemon's default log driver, as JSON ("json-file"). */
export function dockerLoggingDriver(): string[] {
  return ['docker', 'info', '--format', '{{json .LoggingDriver}}'];
}

export function dockerSystemDf(): string[] {
  return ['docker', 'system', 'df', '--format', '{{json .}}'];
}

/** Asks the registry (with docker's own credentials) whether a manifest exists; pulls nothing. */
export function dockerManifestInspect(ref: string, options: { insecure?: boolean } = {}): string[] {
  return ['docker', 'manifest', 'inspect', ...(options.insecure ? ['--insecure'] : []), ref];
}

/** `<id>|<RepoDigests as JSON>` per line, for several images at once. */
export function dockerImageDigestsOf(ids: string[]): string[] {
  return ['docker', 'image', 'inspect', '--format', '{{.Id}}|{{json .RepoDigests}}', ...ids];
}
