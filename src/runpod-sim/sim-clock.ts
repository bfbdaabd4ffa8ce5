import { performance } from "node:perf_hooks";

/**
 * Simulated time: starts at the real wall clock and runs `speedFactor` simulated seconds per real second.
 * `advance` jumps it forward (deterministic tests); changing the speed re-bases it so it never jumps back.
 */
export class SimClock {
  private baseSimMs: number;
  private baseRealMs: number;
  private factor: number;

  constructor(speedFactor: number) {
    SimClock.check(speedFactor);
    this.factor = speedFactor;
    this.baseSimMs = Date.now();
    this.baseRealMs = performance.now();
  }

  /** Simulated epoch milliseconds. */
  now(): number {
    return this.baseSimMs + (performance.now() - this.baseRealMs) * this.factor;
  }

  get speedFactor(): number {
    return this.factor;
  }

  setSpeedFactor(speedFactor: number): void {
    SimClock.check(speedFactor);
    this.baseSimMs = this.now();
    this.baseRealMs = performance.now();
    this.factor = speedFactor;
  }

  /** Moves simulated time forward by `ms`. */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new Error("SimClock.advance: ms must be a finite number >= 0");
    this.baseSimMs += ms;
  }

  private static check(speedFactor: number): void {
    if (!Number.isFinite(speedFactor) || speedFactor <= 0) {
      throw new Error("speedFactor must be a finite number > 0");
    }
  }
}
