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
