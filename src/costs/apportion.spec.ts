import { apportion } from "./apportion";

describe("apportion", () => {
  it.each([
    // exact micro-dollar amounts, total in 1/10000 USD units, expected units
    [[12_345, 67_890], 8, [1, 7]],
    [[33_333.3, 33_333.3, 33_333.4], 10, [3, 3, 4]],
    [[50, 50], 1, [1, 0]],
    [[0, 0], 0, [0, 0]],
  ])("splits %j into %d units as %j", (exact, total, expected) => {
    expect(apportion(exact, total)).toEqual(expected);
  });

  it("always adds up to the total", () => {
    const exact = Array.from({ length: 97 }, (_, i) => ((i * 7919) % 1013) + 0.37 * i);
    const total = Math.round(exact.reduce((a, b) => a + b, 0) / 100);
    const units = apportion(exact, total);
    expect(units.reduce((a, b) => a + b, 0)).toBe(total);
    units.forEach((u, i) => expect(Math.abs(u - exact[i] / 100)).toBeLessThan(1 + 1e-9));
  });
});
