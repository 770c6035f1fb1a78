// The CI template is data too: it must parse, call the scripts that exist with the flags they
// take, hand the build's tag to the deploy, and keep tokens in secrets and the environment.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { YAML } from 'zx';
import { BUILD_FLAGS } from '../../lib/entries/build.mts';
import { DEPLOY_FLAGS } from '../../lib/entries/deploy.mts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const text = readFileSync(`${root}scripts/ci/build-and-deploy.yml`, 'utf8');

interface StepYaml {
  name?: string;
  uses?: string;
  run?: string;
  id?: string;
  env?: Record<string, string>;
}
interface Workflow {
  on: Record<string, unknown>;
  env: Record<string, string>;
  jobs: Record<string, { needs?: string; outputs?: Record<string, string>; steps: StepYaml[] }>;
}

const workflow = YAML.parse(text) as Workflow;
const runs = Object.values(workflow.jobs)
  .flatMap((job) => job.steps.map((step) => step.run ?? ''))
  .join('\n');

describe('the CI workflow template', () => {
  it('builds with --push on a push to main, then deploys the same tag', () => {
    expect(Object.keys(workflow.on)).toContain('push');
    expect(workflow.jobs.deploy?.needs).toBe('build');
    expect(workflow.jobs.build?.outputs?.tag).toBe('${{ steps.build.outputs.tag }}');
    const build = workflow.jobs.build?.steps.find((s) => s.id === 'build');
    expect(build?.run).toContain('node berth/scripts/build.mts "$PRODUCT" --push --json');
    const deploy = workflow.jobs.deploy?.steps.at(-1);
    expect(deploy?.env?.TAG).toBe('${{ needs.build.outputs.tag }}');
    expect(deploy?.run).toMatch(/scripts\/deploy\.mts \$PRODUCT --tag \$TAG/);
  });

  it('uses only scripts and flags that exist', () => {
    for (const script of runs.matchAll(/scripts\/([\w-]+)\.mts/g))
      expect(existsSync(`${root}scripts/${script[1]}.mts`), script[0]).toBe(true);
    const known = new Set([...Object.keys(BUILD_FLAGS), ...Object.keys(DEPLOY_FLAGS), 'json', 'dry-run', 'verbose', 'help']);
    const berthFlags = [...runs.matchAll(/\.mts [^\n|&>]*/g)].flatMap((m) => [...m[0].matchAll(/--([a-z-]+)/g)].map((f) => f[1]));
    expect(berthFlags.length).toBeGreaterThan(2);
    for (const flag of berthFlags) expect(known.has(flag as string), `--${flag}`).toBe(true);
  });

  it('takes tokens from secrets into the environment, never onto a command line or the log', () => {
    const build = workflow.jobs.build?.steps.find((s) => s.id === 'build');
    expect(build?.env?.BERTH_REGISTRY_TOKEN).toBe('${{ secrets.REGISTRY_TOKEN }}');
    expect(build?.env?.GITEA_NPM_TOKEN).toBe('${{ secrets.GITEA_NPM_TOKEN }}');
    expect(runs).not.toMatch(/secrets\./);
    expect(runs).not.toMatch(/\$\{?(BERTH_REGISTRY_TOKEN|GITEA_NPM_TOKEN)/);
    expect(runs).not.toMatch(/docker login/);
  });
});
