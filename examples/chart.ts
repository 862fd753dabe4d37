/**
 * A self-contained SVG line chart: no library and nothing loaded from the network, so it opens
 * offline in any browser or image viewer.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface Series {
  name: string;
  color: string;
  /** [x, y] points in increasing x. */
  points: ReadonlyArray<readonly [number, number]>;
  dashed?: boolean;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Vertical rules with a caption, e.g. where a phase starts. */
  markers?: ReadonlyArray<{ x: number; label: string }>;
}

const WIDTH = 860;
const HEIGHT = 460;
const MARGIN = { left: 64, right: 24, top: 48, bottom: 56 };

const escape = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** About `count` round tick values spanning [lo, hi]. */
function ticks(lo: number, hi: number, count: number): number[] {
  const raw = (hi - lo) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Number(t.toPrecision(12)));
  return out;
}

export function renderChart(series: readonly Series[], options: ChartOptions): string {
  const all = series.flatMap((s) => s.points);
  const xMin = Math.min(...all.map((p) => p[0]));
  const xMax = Math.max(...all.map((p) => p[0]));
  const yMax = Math.max(...all.map((p) => p[1])) * 1.05;
  const yMin = 0;
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const sx = (x: number) => MARGIN.left + ((x - xMin) / (xMax - xMin || 1)) * plotW;
  const sy = (y: number) => MARGIN.top + plotH - ((y - yMin) / (yMax - yMin || 1)) * plotH;
  const parts: string[] = [];

  parts.push(`<rect x="0" y="0" width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`);
  parts.push(`<text x="${WIDTH / 2}" y="28" text-anchor="middle" font-size="17" font-weight="600">${escape(options.title)}</text>`);
  for (const t of ticks(yMin, yMax, 6)) {
    parts.push(`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${sy(t).toFixed(1)}" y2="${sy(t).toFixed(1)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${MARGIN.left - 8}" y="${(sy(t) + 4).toFixed(1)}" text-anchor="end" font-size="12">${t}</text>`);
  }
  for (const t of ticks(xMin, xMax, 8)) {
    parts.push(`<line x1="${sx(t).toFixed(1)}" x2="${sx(t).toFixed(1)}" y1="${MARGIN.top + plotH}" y2="${MARGIN.top + plotH + 5}" stroke="#333"/>`);
    parts.push(`<text x="${sx(t).toFixed(1)}" y="${MARGIN.top + plotH + 20}" text-anchor="middle" font-size="12">${t}</text>`);
  }
  parts.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 14}" text-anchor="middle" font-size="13">${escape(options.xLabel)}</text>`);
  parts.push(
    `<text transform="translate(18 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle" font-size="13">${escape(options.yLabel)}</text>`,
  );
  for (const marker of options.markers ?? []) {
    const x = sx(marker.x).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" stroke="#888" stroke-dasharray="4 4"/>`);
    parts.push(`<text x="${Number(x) + 6}" y="${MARGIN.top + 16}" font-size="12" fill="#555">${escape(marker.label)}</text>`);
  }
  for (const s of series) {
    const d = s.points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
    const dash = s.dashed ? ' stroke-dasharray="6 3"' : '';
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${dash}><title>${escape(s.name)}</title></path>`);
  }
  series.forEach((s, i) => {
    const y = MARGIN.top + 34 + i * 20;
    const x = WIDTH - MARGIN.right - 330;
    const dash = s.dashed ? ' stroke-dasharray="6 3"' : '';
    parts.push(`<line x1="${x}" x2="${x + 24}" y1="${y - 4}" y2="${y - 4}" stroke="${s.color}" stroke-width="3"${dash}/>`);
    parts.push(`<text x="${x + 32}" y="${y}" font-size="12">${escape(s.name)}</text>`);
  });

  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="system-ui, sans-serif">`,
    ...parts.map((p) => `  ${p}`),
    '</svg>',
    '',
  ].join('\n');
}

/** Writes the chart, creating its folder; returns nothing, the caller knows the path. */
export function writeChart(path: string, series: readonly Series[], options: ChartOptions): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, renderChart(series, options));
}
