import type { Metric } from "./operations";

/**
 * A job's metric points in step order, one per step. A point for a step already held replaces it (the
 * trainer may resend a step), so the curve never has a duplicate x.
 */
export class MetricHistory {
  readonly steps: number[] = [];
  readonly points: Metric[] = [];

  upsert(point: Metric): void {
    const last = this.steps.at(-1);
    if (last === undefined || point.step > last) {
      this.steps.push(point.step);
      this.points.push(point);
      return;
    }
    let low = 0;
    let high = this.steps.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((this.steps[mid] ?? Infinity) < point.step) low = mid + 1;
      else high = mid;
    }
    if (this.steps[low] === point.step) this.points[low] = point;
    else {
      this.steps.splice(low, 0, point.step);
      this.points.splice(low, 0, point);
    }
  }

  /** The step to resume after (`trainingMetrics(afterStep:)`); -1 when nothing is drawn yet. */
  get lastStep(): number {
    return this.steps.at(-1) ?? -1;
  }

  get latest(): Metric | undefined {
    return this.points.at(-1);
  }
}
