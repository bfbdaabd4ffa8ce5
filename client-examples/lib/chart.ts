/**
 * Text charts of a loss curve, for terminals and for logs. Pure functions: no I/O.
 */

export interface LossPoint {
  step: number;
  loss: number;
}

const BLOCKS = "▁▂▃▄▅▆▇█";

/** One block character per value, scaled between the values' own minimum and maximum. */
export function sparkline(values: readonly number[]): string {
  if (values.length === 0) return "";
  const min = Math.min(...values);
  const max = Math.max(...values);
  const span = max - min;
  return values
    .map((v) => BLOCKS[span === 0 ? 3 : Math.round(((v - min) / span) * (BLOCKS.length - 1))])
    .join("");
}

/**
 * An ASCII plot of loss against step: `height` rows of `width` columns plus a y axis (min, middle, max loss)
 * and an x axis (first and last step). Each column shows the mean loss of the points that fall in it (`*`);
 * columns between two measured ones are interpolated (`.`), so a sparse curve still reads as a line.
 */
export function plot(points: readonly LossPoint[], width: number, height: number): string[] {
  if (points.length === 0) return [];
  const first = points[0].step;
  const last = points[points.length - 1].step;
  const sums = new Array<number>(width).fill(0);
  const counts = new Array<number>(width).fill(0);
  for (const { step, loss } of points) {
    const col = last === first ? 0 : Math.round(((step - first) / (last - first)) * (width - 1));
    sums[col] += loss;
    counts[col] += 1;
  }
  const measured: (number | null)[] = sums.map((sum, col) => (counts[col] > 0 ? sum / counts[col] : null));
  const values: (number | null)[] = [...measured];
  let previous = -1;
  for (let col = 0; col < width; col += 1) {
    const value = measured[col];
    if (value === null) continue;
    const before = previous >= 0 ? measured[previous] : null;
    if (before !== null && before !== undefined) {
      for (let gap = previous + 1; gap < col; gap += 1) {
        values[gap] = before + ((value - before) * (gap - previous)) / (col - previous);
      }
    }
    previous = col;
  }
  const present = values.filter((v): v is number => v !== null);
  const min = Math.min(...present);
  const max = Math.max(...present);
  const rowOf = (v: number) =>
    max === min ? Math.floor(height / 2) : Math.round(((max - v) / (max - min)) * (height - 1));
  const grid = Array.from({ length: height }, () => new Array<string>(width).fill(" "));
  values.forEach((value, col) => {
    if (value !== null) grid[rowOf(value)][col] = measured[col] !== null ? "*" : ".";
  });
  const label = (row: number): string => {
    if (row === 0) return formatLoss(max);
    if (row === height - 1) return formatLoss(min);
    if (row === Math.floor((height - 1) / 2)) return formatLoss((max + min) / 2);
    return "";
  };
  const lines = grid.map((cells, row) => `${label(row).padStart(9)} |${cells.join("").trimEnd()}`);
  lines.push(`${" ".repeat(9)} +${"-".repeat(width)}`);
  const left = `step ${first}`;
  const right = `${last}`;
  lines.push(`${" ".repeat(11)}${left}${right.padStart(Math.max(1, width - left.length))}`);
  return lines;
}

export function formatLoss(loss: number): string {
  return Math.abs(loss) >= 1000 ? loss.toExponential(2) : loss.toFixed(4);
}

/** `42s`, `3m05s`, `1h02m`. */
export function formatDuration(totalSeconds: number): string {
  const s = Math.max(0, Math.round(totalSeconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** `$0.0123`: the API's own precision (4 decimals). */
export function formatUsd(usd: number): string {
  return `$${usd.toFixed(4)}`;
}
