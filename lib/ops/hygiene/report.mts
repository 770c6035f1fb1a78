// What a hygiene run found and did, as data (--json, the webhook) and as lines for cron mail.
import { formatBytes } from '../../core/bytes.mts';
import { shortTag } from '../../releases/history.mts';
import type { DiskReport, LogAudit, MemoryReport } from './audits.mts';
import type { ImageRef } from './retention.mts';

export const CLEANUPS = ['images', 'dangling', 'build-cache'] as const;
export type CleanupName = (typeof CLEANUPS)[number];

export interface CleanupResult {
  name: CleanupName;
  state: 'done' | 'skipped' | 'failed';
  summary: string;
  removed: string[];
  failed: { ref: string; error: string }[];
  error?: string;
}

export interface ProductHygiene {
  product: string;
  state: 'checked' | 'skipped';
  reason?: string;
  keep?: number;
  keptReleases?: string[];
}

export interface HygieneReport {
  host: string;
  time: string;
  dryRun: boolean;
  products: ProductHygiene[];
  cleanups: CleanupResult[];
  keptImages: ImageRef[];
  logs: LogAudit;
  disk?: DiskReport;
  memory?: MemoryReport;
  alerts: string[];
  notified?: { ok: boolean; detail: string };
}

/** The human form, for cron mail and terminals. */
export function formatHygiene(report: HygieneReport): string[] {
  const lines: string[] = [];
  for (const p of report.products) {
    if (p.state === 'skipped') lines.push(`${p.product}: ${p.reason?.split('; ')[0]}${p.reason?.includes('; ') ? ')' : ''}`);
    else
      lines.push(
        `${p.product}: keeps ${p.keptReleases?.map(shortTag).join(', ') || 'no release yet'} (last ${p.keep})${p.reason ? `; ${p.reason}` : ''}`,
      );
  }
  for (const c of report.cleanups) {
    lines.push(`${c.name}: ${c.state === 'done' ? c.summary : c.state === 'skipped' ? c.summary : `FAILED: ${c.summary}`}`);
    for (const ref of c.removed) lines.push(`  ${report.dryRun ? 'would remove' : 'removed'} ${ref}`);
    for (const f of c.failed) lines.push(`  could not remove ${f.ref}: ${f.error}`);
  }
  lines.push(`logs: daemon driver ${report.logs.daemonDriver || '?'} (${report.logs.daemonLogOpts || 'daemon.json not read'})`);
  if (report.logs.findings.length === 0 && !report.logs.error) lines.push('  no running product container has unbounded logs');
  for (const f of report.logs.findings) {
    lines.push(
      `  ${f.product}/${f.service} (${f.container}): ${f.how}${f.logBytes !== undefined ? `, ${formatBytes(f.logBytes)} so far` : ''}`,
    );
    lines.push(`    fix: ${f.fix}`);
  }
  if (report.disk) {
    lines.push(
      `disk: ${report.disk.path} ${report.disk.usedPercent}% used, ${formatBytes(report.disk.freeBytes)} free (alert at ${report.disk.threshold}%)`,
    );
    for (const d of report.disk.docker) lines.push(`  ${d.type.padEnd(14)} ${d.size.padStart(10)}  reclaimable ${d.reclaimable}`);
  }
  if (report.memory) {
    const m = report.memory;
    lines.push(
      `memory: limits of running product containers sum to ${formatBytes(m.limitBytes)} of ${formatBytes(m.hostBytes)} host RAM${m.overcommitted ? ' (OVERCOMMITTED)' : ''}; reservations ${formatBytes(m.reservationBytes)}`,
    );
    for (const s of m.services)
      lines.push(
        `  ${`${s.product}/${s.service}`.padEnd(28)} limit ${s.limitBytes ? formatBytes(s.limitBytes) : 'none'}, reservation ${s.reservationBytes ? formatBytes(s.reservationBytes) : 'none'}${s.containers > 1 ? ` (${s.containers} containers)` : ''}`,
      );
    if (m.unbounded.length > 0)
      lines.push(`  no limit and no reservation: ${m.unbounded.join(', ')} (set deploy.resources.limits.memory or mem_limit)`);
  }
  for (const alert of report.alerts) lines.push(`ALERT: ${alert}`);
  if (report.notified) lines.push(`notification: ${report.notified.ok ? 'sent' : `FAILED (${report.notified.detail})`}`);
  return lines;
}
