// `build <product>`: release -> plan -> login -> ask the registry -> beforeBuild hooks -> builder -> build and push ->
// tag reused images -> verify. Meant for CI or a builder machine; the VM only pulls what this pushed.
import { runSteps, type Step } from '../core/pipeline.mts';
import type { BuildContext } from './context.mts';
import { buildResult, type BuildResult } from './result.mts';
import { askRegistry } from './steps/ask-registry.mts';
import { beforeBuild } from './steps/before-build.mts';
import { build } from './steps/build-images.mts';
import { chooseBuilder } from './steps/choose-builder.mts';
import { login } from './steps/login.mts';
import { plan } from './steps/plan-images.mts';
import { source } from './steps/source.mts';
import { tagReused } from './steps/tag-reused.mts';
import { verify } from './steps/verify.mts';

export const buildSteps: Step<BuildContext>[] = [source, plan, login, askRegistry, beforeBuild, chooseBuilder, build, tagReused, verify];

export async function buildProduct(ctx: BuildContext, steps: Step<BuildContext>[] = buildSteps): Promise<BuildResult> {
  const started = performance.now();
  await runSteps(ctx, steps);
  return buildResult(ctx, started);
}
