// A throwaway git repository holding a product's source, so builds and SHAs are real.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { rigRunner } from './engine.mts';

export interface FixtureRepo {
  dir: string;
  /** The SHA of the first commit. */
  sha: string;
  /** Writes files (null deletes one), commits everything, returns the new SHA. */
  commit(files: Record<string, string | null>, message?: string): Promise<string>;
  remove(): Promise<void>;
}

export async function makeFixtureRepo(options: { files: Record<string, string> }): Promise<FixtureRepo> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-repo-'));
  const git = (...args: string[]) => rigRunner.read(['git', '-C', dir, ...args]);
  await git('init', '--quiet', '-b', 'main');
  // Local identity and no signing: the machine's global git config must not matter.
  await git('config', 'user.name', 'berth tests');
  await git('config', 'user.email', 'tests@berth.invalid');
  await git('config', 'commit.gpgsign', 'false');

  async function commit(files: Record<string, string | null>, message = 'fixture change'): Promise<string> {
    for (const [path, content] of Object.entries(files)) {
      const target = join(dir, path);
      if (content === null) {
        await rm(target, { force: true });
      } else {
        await mkdir(dirname(target), { recursive: true });
        await writeFile(target, content);
      }
    }
    // The product's .env is the VM's (berth writes the deployed release into it), never the repo's.
    await git('add', '--all', '--', '.', ':(exclude).env');
    await git('commit', '--quiet', '--allow-empty', '-m', message);
    return git('rev-parse', 'HEAD');
  }

  const sha = await commit(options.files, 'initial fixture');
  return { dir, sha, commit, remove: () => rm(dir, { recursive: true, force: true }) };
}
