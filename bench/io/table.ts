/** Prints the result rows as a fixed-width text table (and as Markdown for docs/BENCHMARKS.md). */

export interface Row {
  metric: string;
  /** One cell per VMM column; undefined when not measured. */
  values: (number | undefined)[];
  /** How to print one value (unit included). */
  format: (v: number) => string;
  /** Explains a missing value, e.g. why the net part did not run. */
  missing?: string[];
}

/** Three significant digits without exponent notation: 0.0340, 9.34, 146, 1370. */
export function threeDigits(v: number): string {
  return Math.abs(v) >= 1000 ? Math.round(Number(v.toPrecision(3))).toString() : v.toPrecision(3);
}

export function ratioCell(values: (number | undefined)[]): string {
  const [a, b] = values;
  if (a === undefined || b === undefined || b === 0) return '–';
  return threeDigits(a / b);
}

function cells(row: Row): string[] {
  return [row.metric, ...row.values.map((v, i) => (v === undefined ? row.missing?.[i] ?? 'n/a' : row.format(v))), ratioCell(row.values)];
}

export function textTable(header: string[], rows: Row[]): string {
  const all = [header, ...rows.map(cells)];
  const widths = header.map((_, c) => Math.max(...all.map((r) => r[c].length)));
  const line = (r: string[]) => r.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...all.slice(1).map(line)].join('\n');
}

export function markdownTable(header: string[], rows: Row[]): string {
  const line = (r: string[]) => `| ${r.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map((r) => line(cells(r)))].join('\n');
}
