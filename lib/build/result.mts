// What a build reports: per image what happened and why, as data (--json) and as the one line an
// operator reads at the end.
import { formatSeconds } from '../core/ui.mts';
import type { BuilderKind } from './builder.mts';
import type { HookRecord } from '../releases/ledger.mts';
import { releaseOf, taggedRef, type BuildContext } from './context.mts';

export interface ImageResult {
  ref: string;
  action: 'built' | 'reused' | 'present' | 'planned';
  reason: string;
  digest?: string;
  /** Compressed size of the image's layers in the registry (pushed builds). */
  sizeBytes?: number;
  builtWith?: BuilderKind;
  ms?: number;
}

export interface BuildResult {
  product: string;
  sha: string;
  tag: string;
  dirty: boolean;
  pushed: boolean;
  result: 'ok' | 'dry-run';
  builder?: { kind: BuilderKind; docker: string; version: string };
  images: Record<string, ImageResult>;
  durationsMs: Record<string, number>;
  /** The beforeBuild hooks that ran: name, result, exit code, duration (and a failure's last lines). */
  hooks?: HookRecord[];
}

/** The result of a build whose steps all ran; `started` is when the first one began. */
export function buildResult(ctx: BuildContext, started: number): BuildResult {
  const rel = releaseOf(ctx);
  const images: Record<string, ImageResult> = {};
  for (const image of ctx.images) {
    const state = ctx.state[image.service];
    if (!state) continue;
    const action = state.action === 'build' ? (ctx.options.dryRun ? 'planned' : 'built') : state.action === 'reuse' ? 'reused' : 'present';
    images[image.service] = {
      ref: taggedRef(image, rel.tag),
      action,
      reason: state.reason,
      ...(state.digest ? { digest: state.digest } : {}),
      ...(state.sizeBytes !== undefined ? { sizeBytes: state.sizeBytes } : {}),
      ...(state.builtWith ? { builtWith: state.builtWith } : {}),
      ...(state.ms !== undefined ? { ms: state.ms } : {}),
    };
  }
  return {
    product: ctx.product.name,
    sha: rel.sha,
    tag: rel.tag,
    dirty: rel.dirty,
    pushed: ctx.options.push && !ctx.options.dryRun,
    result: ctx.options.dryRun ? 'dry-run' : 'ok',
    ...(ctx.builder ? { builder: { kind: ctx.builder.kind, docker: ctx.builder.docker, version: ctx.builder.version } } : {}),
    images,
    durationsMs: { ...ctx.timings, total: Math.round(performance.now() - started) },
    ...(ctx.hooks.length > 0 ? { hooks: [...ctx.hooks] } : {}),
  };
}

/** The one line an operator reads at the end. */
export function summarize(result: BuildResult): string {
  const group = (action: ImageResult['action']) =>
    Object.entries(result.images)
      .filter(([, image]) => image.action === action)
      .map(([name]) => name);
  const parts = [
    group('built').length ? `built ${group('built').join(', ')}` : result.result === 'dry-run' ? '' : 'built nothing',
    group('reused').length ? `reused ${group('reused').join(', ')} (unchanged)` : '',
    group('present').length ? `already in the registry: ${group('present').join(', ')}` : '',
    group('planned').length ? `would build ${group('planned').join(', ')}` : '',
  ].filter(Boolean);
  const where = result.pushed ? ', pushed' : result.result === 'dry-run' ? ' (dry run)' : ', local only (no --push)';
  return `${result.product} ${result.tag}: ${parts.join('; ')}${where} (${formatSeconds(result.durationsMs.total ?? 0)})`;
}
