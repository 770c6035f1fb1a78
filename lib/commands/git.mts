// Pure argv builders for git, always with -C so no caller has to change directory.

export function gitRevParse(repo: string, ref = 'HEAD'): string[] {
  return ['git', '-C', repo, 'rev-parse', '--verify', `${ref}^{commit}`];
}

export function gitStatusPorcelain(repo: string): string[] {
  return ['git', '-C', repo, 'status', '--porcelain', '--untracked-files=normal'];
}

export function gitDiffNames(repo: string, from: string, to: string): string[] {
  return ['git', '-C', repo, 'diff', '--name-only', `${from}..${to}`];
}

export function gitShowFile(repo: string, ref: string, path: string): string[] {
  return ['git', '-C', repo, 'show', `${ref}:${path}`];
}

/** Files changed between two commits (or a commit and the work tree), relative to `repo`
 *  (which may be a subdirectory of the git repo), NUL-separated so no name is ever quoted. */
export function gitChangedFiles(repo: string, from: string, to?: string, paths: string[] = []): string[] {
  return ['git', '-C', repo, 'diff', '--name-only', '--relative', '-z', from, ...(to ? [to] : []), '--', ...paths];
}

/** Tracked files among `paths` that differ from HEAD in the work tree or index. */
export function gitStatusOf(repo: string, paths: string[]): string[] {
  return ['git', '-C', repo, 'status', '--porcelain', '--untracked-files=no', '--', ...paths];
}

/** Which of `paths` git tracks, NUL-separated. */
export function gitTracked(repo: string, paths: string[]): string[] {
  return ['git', '-C', repo, 'ls-files', '-z', '--', ...paths];
}

/** Tracked files with local edits (work tree or index) under the repo directory, NUL-separated. */
export function gitTrackedEdits(repo: string): string[] {
  return ['git', '-C', repo, 'diff', 'HEAD', '--name-only', '--relative', '-z', '--', '.'];
}

export function gitRemotes(repo: string): string[] {
  return ['git', '-C', repo, 'remote'];
}

export function gitFetch(repo: string, remote: string): string[] {
  return ['git', '-C', repo, 'fetch', '--quiet', remote];
}

/** Fetches one branch: its tip lands in refs/remotes/<remote>/<branch>. */
export function gitFetchBranch(repo: string, remote: string, branch: string): string[] {
  return ['git', '-C', repo, 'fetch', '--quiet', remote, `+refs/heads/${branch}:refs/remotes/${remote}/${branch}`];
}

/** The newest `count` commits of a branch's first-parent line, newest first. */
export function gitFirstParents(repo: string, ref: string, count: number): string[] {
  return ['git', '-C', repo, 'rev-list', '--first-parent', `--max-count=${count}`, ref];
}

export function gitToplevel(repo: string): string[] {
  return ['git', '-C', repo, 'rev-parse', '--show-toplevel'];
}

/** Moves the checkout to a commit (detached): the files a Compose run there reads are that commit's. */
export function gitCheckoutDetached(repo: string, commit: string): string[] {
  return ['git', '-C', repo, 'checkout', '--quiet', '--detach', commit];
}

/** Files git does not track (ignored ones too), whole directories as one entry: what the operator keeps beside the release. */
export function gitUntracked(repo: string): string[] {
  return ['git', '-C', repo, 'ls-files', '-z', '--others', '--directory'];
}

/** `<sha> <committer time ISO>` per line for the commits among `shas` git has; unknown ones are left out. */
export function gitCommitTimes(repo: string, shas: string[]): string[] {
  return ['git', '-C', repo, 'log', '--no-walk=unsorted', '--ignore-missing', '--format=%H %cI', ...shas, '--'];
}
