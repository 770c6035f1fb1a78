// Status as the operator reads it: a block per product and a row per service, and the error and
// drift lines the command ends with. The --json form is the report itself.
import { shortTag } from '../releases/history.mts';
import type { ServiceStatus, StatusReport } from './status.mts';
import type { SwarmTaskStatus } from './swarm-status.mts';

function ago(iso: string | undefined, now: number): string {
  if (!iso) return '-';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.round(s / 60)}m ago`;
  if (s < 172_800) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86_400)}d ago`;
}

/** Products whose ledger, routes and containers disagree: `scripts/repair.mts` mends them. */
export function driftedProducts(report: StatusReport): string[] {
  return report.products.filter((p) => (p.drift?.length ?? 0) > 0).map((p) => p.product);
}

/** One `error:` line per product in error, naming the fix. */
export function productErrors(report: StatusReport): string[] {
  return report.products
    .filter((p) => p.state === 'error')
    .map((p) => `${p.product}: ${p.reason ?? 'cannot be loaded'}${p.fix ? `: ${p.fix}` : ''}`);
}

/** The human form: one block per product, a row per service. */
export function formatStatus(report: StatusReport, now = Date.now()): string[] {
  const lines: string[] = [];
  for (const p of report.products) {
    if (p.state === 'not deployed here') {
      lines.push(`${p.product}: not deployed here${p.reason ? ` (${p.reason.split('; ')[0]})` : ''}`);
      continue;
    }
    // Nothing ran it here: the reason is all there is to say.
    if (p.state === 'error' && p.services.length === 0 && !p.release) {
      lines.push(`${p.product}: error (${p.reason ?? 'cannot be loaded'})`);
      continue;
    }
    const release = p.release
      ? `${shortTag(p.release.tag)} ${p.release.kind} by ${p.release.who} ${ago(p.release.time, now)}`
      : 'no release recorded';
    lines.push(`${p.product}: ${p.state}, release ${release}${p.reason ? ` (${p.reason})` : ''}`);
    for (const s of p.services) {
      const digest = s.digest ? s.digest.slice(s.digest.indexOf('@') + 8, s.digest.indexOf('@') + 20) : (s.imageId?.slice(7, 19) ?? '-');
      const who = s.deployedAt
        ? `${s.deployKind} by ${s.deployedBy} ${ago(s.deployedAt, now)}`
        : s.state === 'missing'
          ? ''
          : 'not in the ledger';
      const drift =
        s.state === 'running' && !s.matchesLedger
          ? '  (differs from the ledger)'
          : s.configMatches === false
            ? `  (config differs from ${shortTag(p.release?.tag ?? 'its release')}'s: deploy it again to apply it)`
            : '';
      lines.push(
        `  ${s.service.padEnd(12)} ${s.state.padEnd(8)} ${s.health.padEnd(9)} ${shortTag(s.tag ?? '-').padEnd(12)} ${digest.padEnd(12)} ${who}${drift}`,
      );
      lines.push(...formatTasks(s));
    }
    for (const r of p.routes) {
      const reaches = r.upstreams.map((u) => `${u.container ?? u.address} (${u.state === 'running' ? (u.health ?? 'running') : u.state})`);
      lines.push(
        `  route ${`${r.host ?? `via ${r.via}`}${r.path ?? ''}`.padEnd(24)} -> ${r.service}: ${reaches.join(', ') || 'no container yet'}`,
      );
    }
    for (const line of p.drift ?? []) lines.push(`  drift: ${line}`);
    const targets = p.rollbackTargets.map((t) => `${shortTag(t.tag)}${t.images === 'registry' ? ' (pull)' : ''}`);
    lines.push(
      `  rollback to: ${targets.join(', ') || 'none'}${p.unavailable.length ? `  (${p.unavailable.length} older release${p.unavailable.length > 1 ? 's' : ''} no longer available)` : ''}`,
    );
  }
  return lines;
}

/** The lines under a service's row in the human form: one per task. */
export function formatTasks(service: ServiceStatus & { tasks?: SwarmTaskStatus[]; replicas?: string }): string[] {
  return (service.tasks ?? []).map((task) => {
    const digest = task.digest ? task.digest.slice(task.digest.indexOf('@') + 8, task.digest.indexOf('@') + 20) : '-';
    const extra = [task.health && task.health !== 'none' ? task.health : '', task.error ? `error: ${task.error}` : ''].filter(Boolean);
    return `    task ${task.name.padEnd(20)} on ${task.node.padEnd(12)} ${task.state.padEnd(24)} ${digest}${extra.length ? `  ${extra.join(', ')}` : ''}`;
  });
}
