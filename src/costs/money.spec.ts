import { decimalToMicros, microsToDecimal } from "../db/transformers";
import { microsToUsd, percentOf, usdToMicros } from "./money";

describe("money", () => {
  it.each([
    [0, "0.000000"],
    [1, "0.000001"],
    [1_234_567, "1.234567"],
    [-2_500_000, "-2.500000"],
    [9_007_199_254_740_991, "9007199254.740991"],
  ])("stores %d micro-dollars as %s exactly", (micros, decimal) => {
    expect(microsToDecimal(micros)).toBe(decimal);
    expect(decimalToMicros(decimal)).toBe(micros);
  });

  it.each([
    ["1.5", 1_500_000],
    ["0.1234565", 123_457],
    ["0.1234564", 123_456],
    ["12", 12_000_000],
    ["-0.000001", -1],
  ])("reads numeric %s as %d micro-dollars", (decimal, micros) => {
    expect(decimalToMicros(decimal)).toBe(micros);
  });

  it("refuses fractional micro-dollars and non-decimals", () => {
    expect(() => microsToDecimal(0.5)).toThrow(RangeError);
    expect(() => decimalToMicros("1e5")).toThrow(RangeError);
  });

  it.each([
    [123_456, 0.1235],
    [123_449, 0.1234],
    [5_000_000, 5],
    [-123_456, -0.1235],
  ])("shows %d micro-dollars as %d USD (4 decimals)", (micros, usd) => {
    expect(microsToUsd(micros)).toBe(usd);
  });

  it("adds many small amounts exactly, unlike floats", () => {
    let micros = 0;
    for (let i = 0; i < 10; i++) micros += usdToMicros(0.1);
    expect(micros).toBe(1_000_000);
    expect(microsToUsd(micros)).toBe(1);
  });

  it("computes budget percentages with 2 decimals", () => {
    expect(percentOf(2_500_000, 5_000_000)).toBe(50);
    expect(percentOf(1, 3)).toBe(33.33);
    expect(percentOf(5, 0)).toBe(0);
  });
});
