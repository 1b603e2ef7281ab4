/**
 * Charts drawn on the server as SVG: stacked bars or lines over categories (days), with axes, a
 * legend and a `<title>` tooltip per bar or point. No script runs in the page. Every label is
 * escaped here, so templates print the result raw (`<%~ %>`).
 */

export interface ChartSeries {
  name: string;
  /** one value per category; missing or non-finite values count as 0 */
  values: number[];
}

export interface ChartOptions {
  /** read by screen readers and shown as the tooltip of the whole chart */
  title: string;
  categories: string[];
  series: ChartSeries[];
  kind: 'bar' | 'line';
  /** how values print on the axis and in tooltips */
  format?: (value: number) => string;
  /** how a category prints under the axis (default: as is) */
  categoryLabel?: (category: string) => string;
  /** series beyond this many (smallest totals) are summed into "Other" (default 8) */
  maxSeries?: number;
  width?: number;
  height?: number;
}

const NUMBER = new Intl.NumberFormat('en');

const PALETTE = ['#2563eb', '#16a34a', '#d97706', '#dc2626', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#64748b'];
const MARGIN = { top: 12, right: 12, bottom: 28, left: 64 };
const LEGEND_ROW = 18;
const MAX_X_LABELS = 8;

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** 1, 2, 2.5 or 5 times a power of ten, at least `value` (and at least 1e-9 so a flat chart has a scale). */
export function niceCeiling(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value * (1 - 1e-12)) return step * power;
  return 10 * power;
}

const round = (n: number): string => (Math.round(n * 10) / 10).toString();

/** Keeps the largest series and sums the rest into "Other". */
function limitSeries(series: ChartSeries[], categories: number, max: number): ChartSeries[] {
  const clean = series.map((s) => ({ name: s.name, values: Array.from({ length: categories }, (_, i) => (Number.isFinite(s.values[i]) ? s.values[i]! : 0)) }));
  if (clean.length <= max) return clean;
  const total = (s: ChartSeries): number => s.values.reduce((a, b) => a + b, 0);
  const sorted = [...clean].sort((a, b) => total(b) - total(a));
  const kept = sorted.slice(0, max - 1);
  const other = sorted.slice(max - 1);
  return [...kept, { name: `Other (${other.length})`, values: Array.from({ length: categories }, (_, i) => other.reduce((sum, s) => sum + s.values[i]!, 0)) }];
}

export function svgChart(options: ChartOptions): string {
  const width = options.width ?? 800;
  const format = options.format ?? ((v: number) => NUMBER.format(v));
  const label = options.categoryLabel ?? ((c: string) => c);
  const categories = options.categories;
  const series = limitSeries(options.series, categories.length, options.maxSeries ?? 8);
  const legendRows = Math.ceil(series.length / 4);
  const plotHeight = (options.height ?? 240) - MARGIN.top - MARGIN.bottom;
  const height = MARGIN.top + plotHeight + MARGIN.bottom + legendRows * LEGEND_ROW + 4;
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const title = escapeXml(options.title);
  const open = `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="${title}" data-kind="${options.kind}" data-series="${series.length}">`;

  const stacked = categories.map((_, i) => series.reduce((sum, s) => sum + Math.max(0, s.values[i]!), 0));
  const peak = options.kind === 'bar' ? Math.max(0, ...stacked) : Math.max(0, ...series.flatMap((s) => s.values));
  if (categories.length === 0 || series.length === 0 || peak === 0) {
    return `${open}<title>${title}</title><text x="${width / 2}" y="${height / 2}" text-anchor="middle" class="chart-empty">No data in this range</text></svg>`;
  }

  const top = niceCeiling(peak);
  const y = (v: number): number => MARGIN.top + plotHeight - (v / top) * plotHeight;
  const band = plotWidth / categories.length;
  const x = (i: number): number => MARGIN.left + i * band;
  const parts: string[] = [open, `<title>${title}</title>`];

  // grid and y axis
  for (let step = 0; step <= 4; step++) {
    const value = (top * step) / 4;
    const gy = round(y(value));
    parts.push(`<line class="grid" x1="${MARGIN.left}" x2="${width - MARGIN.right}" y1="${gy}" y2="${gy}" stroke="#e5e7eb"/>`);
    parts.push(`<text class="axis" x="${MARGIN.left - 6}" y="${gy}" dy="0.32em" text-anchor="end" font-size="11">${escapeXml(format(value))}</text>`);
  }
  // x labels, thinned to a handful
  const every = Math.max(1, Math.ceil(categories.length / MAX_X_LABELS));
  for (let i = 0; i < categories.length; i += every) {
    parts.push(`<text class="axis" x="${round(x(i) + band / 2)}" y="${MARGIN.top + plotHeight + 16}" text-anchor="middle" font-size="11">${escapeXml(label(categories[i]!))}</text>`);
  }

  if (options.kind === 'bar') {
    const barWidth = Math.max(1, band * 0.8);
    categories.forEach((category, i) => {
      let base = 0;
      series.forEach((s, si) => {
        const value = Math.max(0, s.values[i]!);
        if (value === 0) return;
        const y0 = y(base + value);
        const h = y(base) - y0;
        base += value;
        parts.push(
          `<rect class="bar" x="${round(x(i) + (band - barWidth) / 2)}" y="${round(y0)}" width="${round(barWidth)}" height="${round(Math.max(h, 0.5))}" fill="${PALETTE[si % PALETTE.length]}"><title>${escapeXml(`${label(category)} · ${s.name}: ${format(value)}`)}</title></rect>`,
        );
      });
    });
  } else {
    series.forEach((s, si) => {
      const points = s.values.map((v, i) => `${round(x(i) + band / 2)},${round(y(v))}`).join(' ');
      parts.push(`<polyline class="line" fill="none" stroke="${PALETTE[si % PALETTE.length]}" stroke-width="2" points="${points}"><title>${escapeXml(s.name)}</title></polyline>`);
    });
    // one invisible column per category carries the tooltip: every series' value that day
    categories.forEach((category, i) => {
      const values = series.filter((s) => s.values[i] !== 0).map((s) => `${s.name}: ${format(s.values[i]!)}`);
      if (values.length === 0) return;
      parts.push(
        `<rect class="hover" x="${round(x(i))}" y="${MARGIN.top}" width="${round(band)}" height="${plotHeight}" fill="#000" fill-opacity="0"><title>${escapeXml(`${label(category)}\n${values.join('\n')}`)}</title></rect>`,
      );
    });
  }

  // legend, four to a row
  const legendTop = MARGIN.top + plotHeight + MARGIN.bottom + 4;
  const column = plotWidth / 4;
  series.forEach((s, si) => {
    const lx = MARGIN.left + (si % 4) * column;
    const ly = legendTop + Math.floor(si / 4) * LEGEND_ROW;
    parts.push(`<rect x="${round(lx)}" y="${ly}" width="10" height="10" fill="${PALETTE[si % PALETTE.length]}"/>`);
    parts.push(`<text class="legend" x="${round(lx + 14)}" y="${ly + 9}" font-size="11">${escapeXml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}
