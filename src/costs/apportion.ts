import type { Micros } from "./money";

/** One unit of the API's money: 4 decimals of a dollar, in micro-dollars. */
export const USD_UNIT_MICROS = 100;

/** Whole API units to USD. */
export const unitsToUsd = (units: number): number => units / 10_000;

/**
 * Splits `totalUnits` whole units over items in proportion to their exact amounts (micro-dollars, fractional),
 * by largest remainder: each item gets its floor, the units left go to the largest remainders. So every
 * partition of a report (by deployment, by day) adds up to exactly the same total after rounding. Pure.
 */
export function apportion(exactMicros: readonly Micros[], totalUnits: number): number[] {
  const exactUnits = exactMicros.map((m) => Math.max(0, m) / USD_UNIT_MICROS);
  const sum = exactUnits.reduce((a, b) => a + b, 0);
  if (sum === 0 || totalUnits <= 0) return exactUnits.map(() => 0);
  const scaled = exactUnits.map((u) => (u * totalUnits) / sum);
  const floors = scaled.map(Math.floor);
  let left = totalUnits - floors.reduce((a, b) => a + b, 0);
  const order = scaled.map((v, i) => [v - floors[i], i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (left <= 0) break;
    floors[i] += 1;
    left -= 1;
  }
  return floors;
}
