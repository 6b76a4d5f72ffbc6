/** Number formatting shared by the text and HTML reports: three significant digits, units that fit the value. */

function sig3(x: number): string {
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

export function formatMs(ms: number): string {
  if (ms < 1) return `${sig3(ms * 1000)} µs`;
  if (ms < 1000) return `${sig3(ms)} ms`;
  return `${sig3(ms / 1000)} s`;
}

export function formatRate(perSec: number): string {
  return perSec >= 1000 ? Math.round(perSec).toLocaleString('en-US') : sig3(perSec);
}

export function formatKiB(kib: number): string {
  return kib >= 1024 ? `${sig3(kib / 1024)} MiB` : `${Math.round(kib)} KiB`;
}

export function formatRatio(r: number): string {
  return `${sig3(r)}×`;
}

/** Quoted figures are printed exactly as published, in milliseconds. */
export function formatQuoted(ms: number | [number, number]): string {
  return Array.isArray(ms) ? `${ms[0]}–${ms[1]} ms` : `${ms} ms`;
}
