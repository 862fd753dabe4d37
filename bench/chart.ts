/** A self-contained chart of the results: plain SVG (embedded in an HTML page with the table),
 * no script and no network, so it renders offline. benny's own chart.html loads Chart.js from a
 * CDN and is blank without one. */
import type { ResultRow } from './report.js';

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function colour(row: ResultRow): string {
  if (row.kind === 'probe') return '#9e9e9e';
  if (row.kind === 'peer') return '#e07b39';
  return row.threads > 1 ? '#1f6fb2' : '#5fa8e0';
}

/** Horizontal bars of ns/element on a log scale, one block per workload. */
export function svgChart(rows: readonly ResultRow[], title: string): string {
  const width = 1100, label = 420, barH = 14, gap = 4, blockGap = 26, left = label + 10, right = 90;
  const values = rows.map((r) => r.nsPerElement).filter((v) => v > 0);
  const lo = Math.pow(10, Math.floor(Math.log10(Math.min(...values))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...values))));
  const x = (v: number) => left + ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (width - left - right);
  const workloads = [...new Set(rows.map((r) => r.workload))];
  const parts: string[] = [];
  let y = 50;
  for (const w of workloads) {
    parts.push(`<text x="4" y="${y}" font-weight="bold">${escape(w)}</text>`);
    y += 8;
    for (const r of rows.filter((row) => row.workload === w)) {
      const end = x(r.nsPerElement);
      parts.push(
        `<text x="12" y="${y + barH - 3}">${escape(`${r.name}, ${r.threads} thread${r.threads > 1 ? 's' : ''}`)}</text>`,
        `<rect x="${left}" y="${y}" width="${Math.max(1, end - left).toFixed(1)}" height="${barH}" fill="${colour(r)}"/>`,
        `<text x="${(end + 4).toFixed(1)}" y="${y + barH - 3}">${r.nsPerElement.toPrecision(3)}</text>`,
      );
      y += barH + gap;
    }
    y += blockGap;
  }
  const axis: string[] = [];
  for (let v = lo; v <= hi * 1.0001; v *= 10) {
    axis.push(`<line x1="${x(v)}" y1="30" x2="${x(v)}" y2="${y - blockGap}" stroke="#ddd"/>`, `<text x="${x(v)}" y="26" text-anchor="middle">${v >= 1 ? v : v.toPrecision(1)}</text>`);
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="4" y="14" font-size="13" font-weight="bold">${escape(title)} — ns/element, log scale (lower is better)</text>`,
    ...axis,
    ...parts,
    '</svg>',
  ].join('\n');
}

export function htmlPage(svg: string, tableHtml: string, title: string): string {
  return `<!doctype html>\n<html><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>body{font-family:sans-serif;margin:16px}table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}td:first-child,td:nth-child(2),th{text-align:left}</style>
</head><body>\n${svg}\n${tableHtml}\n</body></html>\n`;
}
