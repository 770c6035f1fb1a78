// The delivery report as one HTML page: no script, no font, no stylesheet or image from anywhere
// else. Every chart is SVG drawn here; each mark carries a <title> (the hover text), and every
// chart has a table or list under it saying the same, for a phone that cannot hover.
// The numbers of the key metrics sit in data-value attributes, exactly as --json has them.
import { formatDuration, formatMb, formatRate, shortTag } from './delivery.mts';
import type { DeliveryReport, ImageTrend, KeyMetrics, Metrics, ProductReport, TimelineEntry } from './delivery-model.mts';
import { trend } from './delivery-text.mts';

export function escapeHtml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&#39;');
}
const e = escapeHtml;

const OUTCOME_COLOUR: Record<TimelineEntry['outcome'], string> = {
  ok: '#2e7d32',
  failed: '#c62828',
  'rolled-back': '#ef6c00',
  rollback: '#1565c0',
  unchanged: '#9e9e9e',
};
const STEP_COLOURS = ['#5c6bc0', '#26a69a', '#ffa726', '#ab47bc', '#8d6e63', '#29b6f6', '#d4e157', '#ec407a', '#78909c', '#66bb6a'];

const W = 640;
const fmt = (n: number) => (Number.isFinite(n) ? Number(n.toFixed(1)) : 0);

interface Card {
  key: keyof KeyMetrics | 'durationP50Ms' | 'rollbacks';
  label: string;
  value: number | null;
  text: string;
  trend?: string;
  /** A rising number is bad (failure rate, restore and lead time). */
  lowerIsBetter?: boolean;
}

function cards(m: Metrics, before: KeyMetrics): Card[] {
  return [
    {
      key: 'deploysPerDay',
      label: 'Deploys per day',
      value: m.deploysPerDay,
      text: m.deploysPerDay.toFixed(2),
      trend: trend(m.deploysPerDay, before.deploysPerDay, (n) => n.toFixed(2)),
    },
    {
      key: 'changeFailureRate',
      label: 'Change failure rate',
      value: m.changeFailureRate,
      text: formatRate(m.changeFailureRate),
      trend: trend(m.changeFailureRate, before.changeFailureRate, formatRate),
      lowerIsBetter: true,
    },
    {
      key: 'restoreP50Ms',
      label: 'Time to restore (p50)',
      value: m.restoreP50Ms,
      text: formatDuration(m.restoreP50Ms),
      trend: trend(m.restoreP50Ms, before.restoreP50Ms, formatDuration),
      lowerIsBetter: true,
    },
    {
      key: 'leadTimeP50Ms',
      label: 'Lead time (p50)',
      value: m.leadTimeP50Ms,
      text: formatDuration(m.leadTimeP50Ms),
      trend: trend(m.leadTimeP50Ms, before.leadTimeP50Ms, formatDuration),
      lowerIsBetter: true,
    },
    { key: 'deploys', label: 'Deploys', value: m.deploys, text: String(m.deploys), trend: trend(m.deploys, before.deploys, String) },
    {
      key: 'durationP50Ms',
      label: 'Deploy duration p50/p95',
      value: m.duration.p50Ms,
      text: `${formatDuration(m.duration.p50Ms)} / ${formatDuration(m.duration.p95Ms)}`,
    },
    {
      key: 'rollbacks',
      label: 'Rollbacks (manual + auto)',
      value: m.rollbacks.manual + m.rollbacks.auto,
      text: `${m.rollbacks.manual} + ${m.rollbacks.auto}`,
    },
  ];
}

function cardsHtml(m: Metrics, before: KeyMetrics): string {
  return `<div class="cards">${cards(m, before)
    .map((c) => {
      const direction = c.trend?.startsWith('+') ? 'up' : c.trend?.startsWith('-') ? 'down' : 'flat';
      const good = direction === 'flat' ? '' : (direction === 'down') === Boolean(c.lowerIsBetter) ? ' good' : ' bad';
      return `<div class="metric" data-metric="${c.key}" data-value="${c.value ?? ''}"><div class="label">${e(c.label)}</div><div class="value">${e(c.text)}</div>${
        c.trend ? `<div class="trend ${direction}${good}">${e(c.trend)}</div>` : ''
      }</div>`;
    })
    .join('')}</div>`;
}

function describe(t: TimelineEntry): string {
  const what = t.kind === 'deploy' ? t.outcome : `${t.kind}${t.outcome === 'rollback' ? '' : ` ${t.outcome}`}`;
  return `${shortTag(t.tag)} · ${what} · ${t.who} · ${formatDuration(t.durationMs)} · ${t.time.slice(0, 16).replace('T', ' ')}${t.error ? ` · ${t.error}` : ''}`;
}

function timelineSvg(p: ProductReport, since: number, until: number): string {
  const h = 70;
  const x = (time: string) => 20 + ((Math.min(until, Math.max(since, Date.parse(time))) - since) / Math.max(1, until - since)) * (W - 40);
  const marks = p.timeline.map((t) => {
    const cx = fmt(x(t.time));
    const colour = OUTCOME_COLOUR[t.outcome];
    const title = `<title>${e(describe(t))}</title>`;
    if (t.outcome === 'rollback') {
      const cy = 48;
      return `<path class="mark" data-outcome="${t.outcome}" d="M${cx} ${cy - 6}L${fmt(cx + 6)} ${cy}L${cx} ${cy + 6}L${fmt(cx - 6)} ${cy}Z" fill="${colour}">${title}</path>`;
    }
    return `<circle class="mark" data-outcome="${t.outcome}" cx="${cx}" cy="24" r="6" fill="${colour}" stroke="#fff">${title}</circle>`;
  });
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  return `<svg class="chart" viewBox="0 0 ${W} ${h}" role="img" aria-label="timeline of releases of ${e(p.product)}">
<line x1="20" y1="24" x2="${W - 20}" y2="24" stroke="#ccc"/><line x1="20" y1="48" x2="${W - 20}" y2="48" stroke="#eee"/>
<text x="20" y="66" class="axis">${day(since)}</text><text x="${W - 20}" y="66" class="axis" text-anchor="end">${day(until)}</text>
<text x="${W / 2}" y="66" class="axis" text-anchor="middle">● deploys  ◆ rollbacks</text>
${marks.join('\n')}
</svg>`;
}

function durationSvg(p: ProductReport): string {
  const bars = p.timeline.filter((t) => t.durationMs !== null && t.outcome !== 'unchanged');
  if (bars.length === 0) return '<p class="none">no timed deploys in this window</p>';
  const steps = [...new Set(bars.flatMap((b) => Object.keys(b.steps)))];
  const colour = (step: string) => STEP_COLOURS[steps.indexOf(step) % STEP_COLOURS.length] as string;
  const h = 160;
  const top = 10;
  const bottom = 130;
  const max = Math.max(...bars.map((b) => b.durationMs as number), 1);
  const slot = (W - 60) / bars.length;
  const width = Math.max(2, Math.min(28, slot * 0.7));
  const scale = (ms: number) => (ms / max) * (bottom - top);
  const rects = bars.map((b, i) => {
    const x = fmt(50 + i * slot + (slot - width) / 2);
    let y = bottom;
    const parts = Object.entries(b.steps).map(([step, ms]) => {
      const hgt = scale(ms);
      y -= hgt;
      return `<rect x="${x}" y="${fmt(y)}" width="${fmt(width)}" height="${fmt(hgt)}" fill="${colour(step)}"><title>${e(`${shortTag(b.tag)} ${step}: ${formatDuration(ms)}`)}</title></rect>`;
    });
    const rest = (b.durationMs as number) - Object.values(b.steps).reduce((a, c) => a + c, 0);
    if (rest > 0) {
      const hgt = scale(rest);
      y -= hgt;
      parts.push(
        `<rect x="${x}" y="${fmt(y)}" width="${fmt(width)}" height="${fmt(hgt)}" fill="#ddd"><title>${e(`${shortTag(b.tag)} other: ${formatDuration(rest)}`)}</title></rect>`,
      );
    }
    const outline = `<rect x="${x}" y="${fmt(bottom - scale(b.durationMs as number))}" width="${fmt(width)}" height="${fmt(scale(b.durationMs as number))}" fill="none" stroke="${OUTCOME_COLOUR[b.outcome]}"><title>${e(describe(b))}</title></rect>`;
    return `<g class="bar">${parts.join('')}${outline}</g>`;
  });
  const legend = steps.map(
    (s, i) =>
      `<rect x="${fmt(50 + (i % 6) * 98)}" y="${140 + Math.floor(i / 6) * 12}" width="8" height="8" fill="${colour(s)}"/><text x="${fmt(62 + (i % 6) * 98)}" y="${148 + Math.floor(i / 6) * 12}" class="axis">${e(s)}</text>`,
  );
  return `<svg class="chart" viewBox="0 0 ${W} ${h + Math.floor(steps.length / 6) * 12}" role="img" aria-label="deploy duration by step">
<line x1="48" y1="${bottom}" x2="${W - 10}" y2="${bottom}" stroke="#999"/>
<text x="44" y="${top + 8}" class="axis" text-anchor="end">${e(formatDuration(max))}</text><text x="44" y="${bottom}" class="axis" text-anchor="end">0</text>
${rects.join('\n')}
${legend.join('')}
</svg>`;
}

function imageSvg(image: ImageTrend): string {
  const h = 90;
  const values = image.points.map((pt) => pt.sizeBytes);
  const budget = image.budgetMb !== undefined ? image.budgetMb * 1_000_000 : undefined;
  const max = Math.max(...values, budget ?? 0, 1) * 1.1;
  const x = (i: number) => 50 + (image.points.length === 1 ? (W - 70) / 2 : (i / (image.points.length - 1)) * (W - 70));
  const y = (bytes: number) => 75 - (bytes / max) * 65;
  const points = image.points.map((pt, i) => `${fmt(x(i))},${fmt(y(pt.sizeBytes))}`).join(' ');
  const dots = image.points.map(
    (pt, i) =>
      `<circle cx="${fmt(x(i))}" cy="${fmt(y(pt.sizeBytes))}" r="3.5" fill="${budget !== undefined && pt.sizeBytes > budget ? '#c62828' : '#1565c0'}"><title>${e(`${image.service} ${shortTag(pt.tag)}: ${formatMb(pt.sizeBytes)}`)}</title></circle>`,
  );
  const line =
    budget !== undefined
      ? `<line x1="50" x2="${W - 20}" y1="${fmt(y(budget))}" y2="${fmt(y(budget))}" stroke="#c62828" stroke-dasharray="4 3"/><text x="${W - 20}" y="${fmt(y(budget) - 3)}" class="axis" text-anchor="end">budget ${image.budgetMb} MB</text>`
      : '';
  return `<svg class="chart" viewBox="0 0 ${W} ${h}" role="img" aria-label="image size of ${e(image.service)}">
<text x="44" y="14" class="axis" text-anchor="end">${e(formatMb(max))}</text><text x="44" y="75" class="axis" text-anchor="end">0</text>
${line}<polyline points="${points}" fill="none" stroke="#1565c0" stroke-width="1.5"/>${dots.join('')}
</svg>`;
}

function releasesTable(p: ProductReport): string {
  if (p.timeline.length === 0) return '';
  const rows = [...p.timeline]
    .reverse()
    .map(
      (t) =>
        `<tr class="${t.outcome}"><td><code>${e(shortTag(t.tag))}</code></td><td>${e(t.kind === 'deploy' ? t.outcome : t.kind)}</td><td>${e(t.who)}</td><td>${e(formatDuration(t.durationMs))}</td><td>${e(t.time.slice(0, 16).replace('T', ' '))}</td></tr>`,
    );
  return `<details><summary>${p.timeline.length} release record(s)</summary><div class="scroll"><table><thead><tr><th>release</th><th>result</th><th>who</th><th>took</th><th>when (UTC)</th></tr></thead><tbody>${rows.join('')}</tbody></table></div></details>`;
}

function stepsTable(m: Metrics): string {
  const steps = Object.entries(m.duration.steps);
  if (steps.length === 0) return '';
  return `<div class="scroll"><table class="steps"><thead><tr><th>step</th><th>p50</th><th>p95</th></tr></thead><tbody>${steps
    .map(([s, v]) => `<tr><td>${e(s)}</td><td>${formatDuration(v.p50Ms)}</td><td>${formatDuration(v.p95Ms)}</td></tr>`)
    .join('')}</tbody></table></div>`;
}

function productHtml(p: ProductReport, since: number, until: number): string {
  const images = p.images
    .map(
      (image) =>
        `<figure class="image${image.over ? ' over' : ''}" data-service="${e(image.service)}"><figcaption>${e(image.service)}: ${e(formatMb(image.points.at(-1)?.sizeBytes ?? 0))}${
          image.budgetMb !== undefined ? ` (budget ${image.budgetMb} MB${image.over ? ', over budget' : ''})` : ''
        }</figcaption>${imageSvg(image)}</figure>`,
    )
    .join('');
  const targets = p.rollbackTargets.length
    ? `<ul class="targets">${p.rollbackTargets
        .map(
          (t) =>
            `<li data-tag="${e(t.tag)}"><code>${e(shortTag(t.tag))}</code> ${e(t.time.slice(0, 16).replace('T', ' '))}, ${e(t.who)}: <span class="src ${t.source}">${e(t.source)}</span></li>`,
        )
        .join('')}</ul>`
    : '<p class="none">no earlier release to roll back to</p>';
  return `<section class="product" id="product-${e(p.product)}" data-product="${e(p.product)}">
<h2>${e(p.product)}${p.current ? ` <small>running <code>${e(shortTag(p.current.tag))}</code> since ${e(p.current.time.slice(0, 16).replace('T', ' '))} (${e(p.current.who)})</small>` : ''}</h2>
${cardsHtml(p.metrics, p.previous)}
<h3>Releases</h3>${timelineSvg(p, since, until)}${releasesTable(p)}
<h3>Deploy duration and steps</h3>${durationSvg(p)}${stepsTable(p.metrics)}
${images ? `<h3>Image size</h3>${images}` : ''}
<h3>Rollback can reach now</h3>${targets}
</section>`;
}

const STYLE = `
*{box-sizing:border-box}body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:980px;padding:12px;color:#222;background:#fafafa}
h1{font-size:1.4em;margin:.3em 0}h2{font-size:1.2em;margin:0 0 .5em}h2 small{font-weight:normal;color:#666;font-size:.75em}h3{font-size:1em;margin:1em 0 .3em;color:#444}
section{background:#fff;border:1px solid #e0e0e0;border-radius:8px;padding:12px;margin:12px 0}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));gap:8px}
.metric{border:1px solid #eee;border-radius:6px;padding:8px}.label{font-size:.8em;color:#666}.value{font-size:1.35em;font-weight:600}
.trend{font-size:.8em;color:#666}.trend.good{color:#2e7d32}.trend.bad{color:#c62828}
.chart{width:100%;height:auto;display:block}.axis{font-size:10px;fill:#666}
.scroll{overflow-x:auto}table{border-collapse:collapse;font-size:.85em;width:100%}td,th{padding:3px 6px;border-bottom:1px solid #eee;text-align:left;white-space:nowrap}
tr.failed td{color:#c62828}tr.rolled-back td{color:#ef6c00}
figure{margin:.4em 0}figcaption{font-size:.85em}figure.over figcaption{color:#c62828;font-weight:600}
.targets{padding-left:1.2em;margin:.3em 0}.src.missing{color:#c62828}.none{color:#777;font-style:italic}
.legend span{display:inline-block;margin-right:10px;font-size:.8em}.legend i{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:3px;vertical-align:middle}
@media (max-width:480px){body{padding:6px;font-size:14px}section{padding:8px}.value{font-size:1.15em}}
`;

export function renderPage(report: DeliveryReport): string {
  const since = Date.parse(report.since);
  const until = Date.parse(report.until);
  const legend = Object.entries(OUTCOME_COLOUR)
    .map(([outcome, colour]) => `<span><i style="background:${colour}"></i>${e(outcome)}</span>`)
    .join('');
  const body = report.empty
    ? '<p class="none" id="empty">no deploys yet</p>'
    : `<section class="total" data-product="" id="total"><h2>All products</h2>${cardsHtml(report.total, report.previousTotal)}</section>
<p class="legend">${legend}</p>
${report.products.map((p) => productHtml(p, since, until)).join('\n')}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>berth delivery report</title><style>${STYLE}</style></head>
<body><h1>Delivery report</h1>
<p>${e(report.since.slice(0, 16).replace('T', ' '))} to ${e(report.until.slice(0, 16).replace('T', ' '))} UTC (${report.windowDays} days), trends against the ${report.windowDays} days before; a manual rollback within ${report.rollbackWindowHours} h counts the release it undid as a change failure. Generated ${e(report.generatedAt.slice(0, 16).replace('T', ' '))} UTC by berth.</p>
${body}
</body></html>
`;
}
