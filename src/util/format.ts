/** Number formatting for terminal reports. */
export function si(n: number, unit = '', digits = 3): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  const units: Array<[number, string]> = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (const [v, p] of units) if (abs >= v) return `${(n / v).toPrecision(digits)} ${p}${unit}`;
  return `${Number(n.toPrecision(digits))}${unit ? ` ${unit}` : ''}`;
}

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

export function shape(s: ReadonlyArray<number | string>): string {
  return `[${s.join('×')}]`;
}
