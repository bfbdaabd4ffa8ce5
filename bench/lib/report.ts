/**
 * Figures, verdicts and the JSON result every bench writes to bench/results/<name>.json (plus a dated copy, so
 * that two runs side by side survive).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

export const RESULTS_DIR = path.resolve(__dirname, "..", "results");

/** The value at rank `p` (0..100) of an ascending array (nearest rank). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

export interface Summary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Percentiles of `values` (sorted in place when it is a typed array). */
export function summarize(values: number[] | Float64Array): Summary {
  const sorted = values instanceof Float64Array ? values.sort() : [...values].sort((a, b) => a - b);
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    n: sorted.length,
    p50: round(percentile(sorted, 50)),
    p90: round(percentile(sorted, 90)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.length ? sorted[sorted.length - 1] : Number.NaN),
    mean: round(sorted.length ? sum / sorted.length : Number.NaN),
  };
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export interface Verdict {
  what: string;
  figure: string;
  ceiling: string;
  target: string;
  pass: boolean | null;
}

/** Prints a verdict line and returns it for the JSON result. `pass` null: not measurable (e.g. not implemented). */
export function verdict(
  what: string,
  figure: string,
  ceiling: string,
  target: string,
  pass: boolean | null,
): Verdict {
  const word = pass === null ? "N/A " : pass ? "PASS" : "MISS";
  console.log(`  [${word}] ${what}: ${figure} | ceiling: ${ceiling} | target: ${target}`);
  return { what, figure, ceiling, target, pass };
}

export function machine(): Record<string, unknown> {
  return {
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model,
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
    loadAverage: os.loadavg().map((v) => round(v)),
  };
}

/** The commit the tree is at, and the files changed outside bench/ (the code measured may not be committed). */
export function revision(): { commit: string; changedOutsideBench: string[] } {
  const git = (...args: string[]) =>
    execFileSync("git", args, { cwd: path.resolve(__dirname, "..", ".."), encoding: "utf8" }).trimEnd();
  try {
    const changed = git("status", "--porcelain", "--untracked-files=no")
      .split("\n")
      .filter((line) => line && !line.slice(3).startsWith("bench/"))
      .map((line) => line.slice(3));
    return { commit: git("rev-parse", "--short", "HEAD"), changedOutsideBench: changed };
  } catch {
    return { commit: "unknown", changedOutsideBench: [] };
  }
}

export function header(name: string, description: string): void {
  const m = machine();
  console.log(`\n=== ${name}: ${description}`);
  console.log(
    `    ${new Date().toISOString()}, ${String(m.nproc)} cores (${String(m.cpu)}), node ${process.version}, ` +
      `load average ${(m.loadAverage as number[]).join(" ")}`,
  );
  const rev = revision();
  console.log(
    `    commit ${rev.commit}` +
      (rev.changedOutsideBench.length
        ? `, with uncommitted changes to ${rev.changedOutsideBench.join(", ")}`
        : ""),
  );
}

/** Writes the result as bench/results/<name>.json and bench/results/<name>-<timestamp>.json. */
export function writeResult(name: string, result: Record<string, unknown>): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const body = JSON.stringify(
    { bench: name, date: new Date().toISOString(), machine: machine(), revision: revision(), ...result },
    null,
    2,
  );
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  writeFileSync(path.join(RESULTS_DIR, `${name}-${stamp}.json`), body);
  const file = path.join(RESULTS_DIR, `${name}.json`);
  writeFileSync(file, body);
  console.log(`\n  result written to ${path.relative(process.cwd(), file)}`);
  return file;
}

export const fmt = (value: number, digits = 0): string =>
  Number.isFinite(value)
    ? value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : String(value);
