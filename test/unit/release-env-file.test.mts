// The builder's clean-tree check on a machine that also deploys: berth's own .env (the deployed
// release, for a hand-run compose) is not an uncommitted change; an operator's edit of it is.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveRelease } from '../../lib/build/plan.mts';
import { createRunner } from '../../lib/core/runner.mts';
import { UsageError } from '../../lib/core/errors.mts';
import { rememberEnvFile } from '../../lib/releases/env-file-mark.mts';

const dir = mkdtempSync(join(tmpdir(), 'berth-unit-release-env-'));
const repo = join(dir, 'repo');
const state = join(dir, 'state');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("resolveRelease and berth's .env", () => {
  it('counts the .env berth wrote as clean, and any edit of it as a change', async () => {
    const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' }).trim();
    execFileSync('git', ['init', '--quiet', repo]);
    writeFileSync(join(repo, 'compose.yaml'), 'services: {}\n');
    git('add', '.');
    git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '--quiet', '-m', 'one');
    const sha = git('rev-parse', 'HEAD');
    const text = 'IMAGE_TAG=abc\n';
    writeFileSync(join(repo, '.env'), text);
    rememberEnvFile(state, text);
    const runner = createRunner();
    expect(await resolveRelease(runner, repo, { stateDir: state })).toMatchObject({ sha, tag: sha, dirty: false });
    // Without the state dir berth cannot tell: the tree is dirty, as git says.
    await expect(resolveRelease(runner, repo)).rejects.toThrow(UsageError);
    writeFileSync(join(repo, '.env'), `${text}DEBUG=1\n`);
    await expect(resolveRelease(runner, repo, { stateDir: state })).rejects.toThrow(/uncommitted changes \(1 file: \.env\)/);
  });
});
