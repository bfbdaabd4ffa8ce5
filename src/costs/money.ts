/**
 * Money inside the gateway is integer micro-dollars. The API speaks USD as Float rounded to 4 decimals;
 * these are the only conversions between the two.
 */
export type Micros = number;

export const MICROS_PER_USD = 1_000_000;

/** Micro-dollars to USD, rounded half away from zero to 4 decimals (API edge only). */
export function microsToUsd(micros: Micros): number {
  const hundredths = Math.round(Math.abs(micros) / 100) * Math.sign(micros);
  return hundredths / 10_000;
}

/** USD from the API (a Float) to whole micro-dollars. */
export function usdToMicros(usd: number): Micros {
  return Math.round(usd * MICROS_PER_USD);
}

/** `part / whole` as a percentage with 2 decimals; 0 when there is no whole. */
export function percentOf(part: Micros, whole: Micros): number {
  if (whole <= 0) return 0;
  return Math.round((part * 10_000) / whole) / 100;
}
