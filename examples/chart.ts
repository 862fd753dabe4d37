/**
 * Self-contained SVG line charts, one panel or several side by side: no library and nothing
 * loaded from the network, so they open offline in any browser or image viewer.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface Series {
  name: string;
  color: string;
  /** [x, y] points in increasing x. */
  points: ReadonlyArray<readonly [number, number]>;
  dashed?: boolean;
  /** A caption at the series' last point, e.g. its final value. */
  endLabel?: string;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Vertical rules with a caption, e.g. where a phase starts. */
  markers?: ReadonlyArray<{ x: number; label: string }>;
  /** 'log': powers of ten on the y axis. Zeros cannot be placed on it, so they are drawn on a
   * floor line a decade below the smallest positive value, labelled `zeroLabel`. */
  yScale?: 'linear' | 'log';
  /** The floor's label on a log axis. Default '0'. */
  zeroLabel?: string;
  /** Where the legend goes inside the plot. Default 'top-right'. */
  legend?: 'top-right' | 'bottom-right';
}

export interface Panel {
  /** Names the panel in the SVG (`data-panel`), for tests and styling. */
  id: string;
  series: readonly Series[];
  options: ChartOptions;
}

const PANEL_WIDTH = 620;
const HEIGHT = 480;
const MARGIN = { left: 100, right: 20, top: 48, bottom: 56 };
const LEGEND_WIDTH = 270;

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

/** The y axis: where a value goes (0 at the bottom of the plot, 1 at the top), and its ticks. */
interface Axis {
  position(y: number): number;
  ticks: Array<{ y: number; label: string }>;
}

function linearAxis(ys: readonly number[]): Axis {
  const hi = Math.max(...ys) * 1.05 || 1;
  return { position: (y) => y / hi, ticks: ticks(0, hi, 6).map((t) => ({ y: t, label: String(t) })) };
}

function logAxis(ys: readonly number[], zeroLabel: string): Axis {
  const positive = ys.filter((y) => y > 0);
  const top = Math.ceil(Math.log10(Math.max(...positive, 1e-9)));
  const floor = Math.floor(Math.log10(Math.min(...positive, 10 ** (top - 1)))) - 1;
  const span = top - floor;
  const position = (y: number) => (y > 0 ? (Math.max(Math.log10(y), floor) - floor) / span : 0);
  const decades = Array.from({ length: span }, (_, i) => floor + 1 + i);
  return {
    position,
    ticks: [{ y: 0, label: zeroLabel }, ...decades.map((d) => ({ y: 10 ** d, label: `1e${d}` }))],
  };
}

/** One panel's SVG elements, in its own coordinates (0..width, 0..HEIGHT). */
function renderPanel(panel: Panel, width: number): string[] {
  const { series, options } = panel;
  const all = series.flatMap((s) => s.points);
  const xMin = Math.min(...all.map((p) => p[0]));
  const xMax = Math.max(...all.map((p) => p[0]));
  const axis = options.yScale === 'log' ? logAxis(all.map((p) => p[1]), options.zeroLabel ?? '0') : linearAxis(all.map((p) => p[1]));
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const sx = (x: number) => MARGIN.left + ((x - xMin) / (xMax - xMin || 1)) * plotW;
  const sy = (y: number) => MARGIN.top + plotH - axis.position(y) * plotH;
  const parts: string[] = [];

  parts.push(`<text x="${width / 2}" y="28" text-anchor="middle" font-size="16" font-weight="600">${escape(options.title)}</text>`);
  for (const t of axis.ticks) {
    const y = sy(t.y).toFixed(1);
    parts.push(`<line x1="${MARGIN.left}" x2="${width - MARGIN.right}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${MARGIN.left - 8}" y="${(Number(y) + 4).toFixed(1)}" text-anchor="end" font-size="12">${escape(t.label)}</text>`);
  }
  for (const t of ticks(xMin, xMax, 6)) {
    const x = sx(t).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${MARGIN.top + plotH}" y2="${MARGIN.top + plotH + 5}" stroke="#333"/>`);
    parts.push(`<text x="${x}" y="${MARGIN.top + plotH + 20}" text-anchor="middle" font-size="12">${t}</text>`);
  }
  parts.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 14}" text-anchor="middle" font-size="13">${escape(options.xLabel)}</text>`);
  parts.push(
    `<text transform="translate(16 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle" font-size="13">${escape(options.yLabel)}</text>`,
  );
  for (const marker of options.markers ?? []) {
    const x = sx(marker.x).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" stroke="#888" stroke-dasharray="4 4"/>`);
    parts.push(`<text x="${Number(x) + 6}" y="${MARGIN.top + 16}" font-size="12" fill="#555">${escape(marker.label)}</text>`);
  }
  for (const s of series) {
    const d = s.points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
    const dash = s.dashed ? ' stroke-dasharray="6 3"' : '';
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${dash} data-series="${escape(s.name)}"><title>${escape(s.name)}</title></path>`);
  }
  for (const s of series) {
    const last = s.points[s.points.length - 1];
    if (s.endLabel === undefined || last === undefined) continue;
    parts.push(
      `<text x="${(sx(last[0]) - 4).toFixed(1)}" y="${(sy(last[1]) - 8).toFixed(1)}" text-anchor="end" font-size="12" fill="${s.color}">${escape(s.endLabel)}</text>`,
    );
  }
  const legendX = width - MARGIN.right - LEGEND_WIDTH;
  const legendTop = options.legend === 'bottom-right' ? MARGIN.top + plotH - 30 - series.length * 20 : MARGIN.top + 18;
  parts.push(
    `<rect x="${legendX - 6}" y="${legendTop}" width="${LEGEND_WIDTH}" height="${series.length * 20 + 8}" fill="#ffffff" fill-opacity="0.85"/>`,
  );
  series.forEach((s, i) => {
    const y = legendTop + 16 + i * 20;
    const dash = s.dashed ? ' stroke-dasharray="6 3"' : '';
    parts.push(`<line x1="${legendX}" x2="${legendX + 24}" y1="${y - 4}" y2="${y - 4}" stroke="${s.color}" stroke-width="3"${dash}/>`);
    parts.push(`<text x="${legendX + 32}" y="${y}" font-size="12">${escape(s.name)}</text>`);
  });
  return parts;
}

/** Panels side by side in one SVG. */
export function renderPanels(panels: readonly Panel[]): string {
  const width = PANEL_WIDTH * panels.length;
  const body = panels.flatMap((panel, i) => [
    `<g data-panel="${escape(panel.id)}" transform="translate(${i * PANEL_WIDTH} 0)">`,
    ...renderPanel(panel, PANEL_WIDTH).map((p) => `  ${p}`),
    '</g>',
  ]);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${HEIGHT}" viewBox="0 0 ${width} ${HEIGHT}" font-family="system-ui, sans-serif">`,
    `  <rect x="0" y="0" width="${width}" height="${HEIGHT}" fill="#ffffff"/>`,
    ...body.map((p) => `  ${p}`),
    '</svg>',
    '',
  ].join('\n');
}

/** Writes the panels as one SVG, creating its folder; the caller knows the path. */
export function writeChart(path: string, panels: readonly Panel[]): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, renderPanels(panels));
}
