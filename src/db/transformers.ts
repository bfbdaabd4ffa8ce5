import type { ValueTransformer } from "typeorm";

/**
 * Money lives in `numeric` columns (dollars, 6 decimals) and in integer micro-dollars in TypeScript, so that
 * nothing ever accrues money by adding floats. The conversion is done on the decimal string, exactly.
 */
export const microsTransformer: ValueTransformer = {
  to: (micros: number | null | undefined) => (micros == null ? micros : microsToDecimal(micros)),
  from: (value: string | null) => (value == null ? value : decimalToMicros(value)),
};

export function microsToDecimal(micros: number): string {
  if (!Number.isSafeInteger(micros)) throw new RangeError(`money must be whole micro-dollars, got ${micros}`);
  const sign = micros < 0 ? "-" : "";
  const abs = Math.abs(micros);
  return `${sign}${Math.floor(abs / 1_000_000)}.${String(abs % 1_000_000).padStart(6, "0")}`;
}

export function decimalToMicros(value: string): number {
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(value.trim());
  if (!match) throw new RangeError(`not a decimal: ${value}`);
  const [, sign, whole, fraction = ""] = match;
  // Round half up on the 7th decimal; numeric(…,6) columns never have one, but computed values may.
  const digits = (fraction + "0000000").slice(0, 7);
  let micros = Number(whole) * 1_000_000 + Number(digits.slice(0, 6));
  if (Number(digits[6]) >= 5) micros += 1;
  return sign === "-" ? -micros : micros;
}

/** `bigint` counters: strings from both drivers, numbers in TypeScript (they stay far below 2^53). */
export const bigintNumberTransformer: ValueTransformer = {
  to: (value: number | null | undefined) => (value == null ? value : String(value)),
  from: (value: string | null) => (value == null ? value : Number(value)),
};
