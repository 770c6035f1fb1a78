// Pure argv builders for what the image build asks git: is the tree clean, what changed, and the
// object ids of the paths an image is built from (its source key).

/** Uncommitted changes under the repo directory only (a product may live in a subdirectory). */
export function gitStatusHere(repo: string): string[] {
  return ['git', '-C', repo, 'status', '--porcelain', '--untracked-files=normal', '--', '.'];
}

/** The committed object ids (trees, blobs) of paths relative to `repo`, one line each. */
export function gitObjectIds(repo: string, paths: string[], ref = 'HEAD'): string[] {
  return ['git', '-C', repo, 'rev-parse', ...paths.map((path) => `${ref}:./${path}`)];
}

export function gitDiffHead(repo: string): string[] {
  return ['git', '-C', repo, 'diff', 'HEAD', '--binary', '--', '.'];
}

/** Untracked, not ignored files under `repo`, NUL-separated, relative to it. */
export function gitUntracked(repo: string): string[] {
  return ['git', '-C', repo, 'ls-files', '--others', '--exclude-standard', '-z', '--', '.'];
}
