/** Results as rows, and as the Markdown and HTML tables latest.md and the results page show. */

export interface ResultRow {
  workload: string;
  elements: number;
  name: string;
  kind: 'simd-adam' | 'peer' | 'probe';
  threads: number;
  /** Median time of one step (or probe pass), ns. */
  medianNs: number;
  nsPerElement: number;
  /** Adam's 28 bytes/element (STREAM triad: 12) over the median time. */
  gbPerS: number;
  /** The traffic probe's time at the same size and thread count over this one's: 1 = at the
   * memory roofline. */
  ofRoofline: number;
  samples: number;
  source: 'benny' | 'native timer' | 'hrtime';
}

const fmt = (v: number, digits = 3) => (v >= 100 ? v.toFixed(0) : v.toPrecision(digits));

export function markdownTable(rows: readonly ResultRow[]): string {
  const lines = ['| workload | case | threads | median ns/element | GB/s | of roofline |', '|---|---|---:|---:|---:|---:|'];
  for (const r of rows) {
    lines.push(`| ${r.workload} | ${r.name} | ${r.threads} | ${fmt(r.nsPerElement)} | ${fmt(r.gbPerS)} | ${(r.ofRoofline * 100).toFixed(0)}% |`);
  }
  return lines.join('\n');
}

export function htmlTable(rows: readonly ResultRow[]): string {
  const head = '<tr><th>workload</th><th>case</th><th>threads</th><th>median ns/element</th><th>GB/s</th><th>of roofline</th><th>samples</th><th>timer</th></tr>';
  const body = rows.map(
    (r) =>
      `<tr><td>${r.workload}</td><td>${r.name}</td><td>${r.threads}</td><td>${fmt(r.nsPerElement)}</td><td>${fmt(r.gbPerS)}</td><td>${(r.ofRoofline * 100).toFixed(0)}%</td><td>${r.samples}</td><td>${r.source}</td></tr>`,
  );
  return `<table>${head}${body.join('')}</table>`;
}
