// The delivery report as a terminal reads it: one row per product and a total, then each
// product's step split, image sizes and rollback targets. Never NaN: what has no sample is '-'.
import { formatDuration, formatMb, formatRate, shortTag } from './delivery.mts';
import type { DeliveryReport, KeyMetrics, Metrics } from './delivery-model.mts';
import { formatTable } from './table.mts';

const spreadText = (p50: number | null, p95: number | null) => (p50 === null ? '-' : `${formatDuration(p50)}/${formatDuration(p95)}`);

function row(name: string, m: Metrics): string[] {
  return [
    name,
    String(m.deploys),
    m.deploysPerDay.toFixed(2),
    m.deploysPerWeek.toFixed(1),
    formatRate(m.changeFailureRate),
    m.restore.p50Ms === null ? (m.restore.open > 0 ? `${m.restore.open} open` : '-') : formatDuration(m.restore.p50Ms),
    formatDuration(m.leadTime.p50Ms),
    spreadText(m.duration.p50Ms, m.duration.p95Ms),
    m.rollbacks.manual + m.rollbacks.auto === 0 ? '0' : `${m.rollbacks.manual}+${m.rollbacks.auto}auto`,
  ];
}

/** "+0.4/day" style change of one key metric against the window before. */
export function trend(now: number | null, before: number | null, format: (n: number) => string): string {
  if (now === null || before === null) return '';
  const delta = now - before;
  if (delta === 0) return 'same as before';
  return `${delta > 0 ? '+' : '-'}${format(Math.abs(delta))} vs before`;
}

function trends(now: KeyMetrics, before: KeyMetrics): string {
  return [
    `deploys/day ${trend(now.deploysPerDay, before.deploysPerDay, (n) => n.toFixed(2)) || '-'}`,
    `failure rate ${trend(now.changeFailureRate, before.changeFailureRate, (n) => formatRate(n)) || '-'}`,
    `restore ${trend(now.restoreP50Ms, before.restoreP50Ms, formatDuration) || '-'}`,
    `lead time ${trend(now.leadTimeP50Ms, before.leadTimeP50Ms, formatDuration) || '-'}`,
  ].join(', ');
}

export function formatDelivery(report: DeliveryReport): string[] {
  const head = `delivery since ${report.since.slice(0, 10)} (${report.windowDays} days; rollback window ${report.rollbackWindowHours}h)`;
  if (report.empty) return [head, 'no deploys yet'];
  const header = ['product', 'deploys', '/day', '/week', 'fail rate', 'restore p50', 'lead p50', 'duration p50/p95', 'rollbacks'];
  const lines = [
    head,
    ...formatTable([header, ...report.products.map((p) => row(p.product, p.metrics)), row('total', report.total)], {
      align: ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
    }),
    `trend: ${trends(report.total, report.previousTotal)}`,
  ];
  for (const p of report.products) {
    const steps = Object.entries(p.metrics.duration.steps);
    const details: string[] = [];
    if (steps.length > 0) details.push(`  steps p50/p95: ${steps.map(([s, v]) => `${s} ${spreadText(v.p50Ms, v.p95Ms)}`).join(', ')}`);
    for (const image of p.images) {
      const sizes = image.points.map((pt) => formatMb(pt.sizeBytes)).slice(-5);
      const budget = image.budgetMb !== undefined ? ` (budget ${image.budgetMb} MB${image.over ? ', OVER' : ''})` : '';
      details.push(`  image ${image.service}: ${sizes.join(' -> ')}${budget}`);
    }
    if (p.rollbackTargets.length > 0) {
      const targets = p.rollbackTargets.slice(0, 5).map((t) => `${shortTag(t.tag)} (${t.source})`);
      details.push(
        `  rollback can reach: ${targets.join(', ')}${p.rollbackTargets.length > 5 ? ` and ${p.rollbackTargets.length - 5} older` : ''}`,
      );
    }
    if (p.metrics.clockSkew > 0) details.push(`  ${p.metrics.clockSkew} ledger line(s) dated before a line above them (clock skew)`);
    if (details.length > 0) lines.push(`${p.product}${p.current ? ` at ${shortTag(p.current.tag)}` : ''}:`, ...details);
  }
  return lines;
}
