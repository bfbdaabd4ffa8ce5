/**
 * What /proc says about processes: resident memory and CPU time. Linux only, which is what the benches run on.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** VmRSS of `pid` in KiB. */
export function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]);
}

/** User + system CPU seconds `pid` has used so far (0 when it is gone). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces; fields after the closing parenthesis are fixed.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** Pids whose command name is one of `names` (e.g. "postgres", "redis-server"). */
export function pidsNamed(names: readonly string[]): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const comm = readFileSync(`/proc/${entry}/comm`, "utf8").trim();
      if (names.includes(comm)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/** Busy and total CPU seconds of the whole machine (all cores). */
function machineSeconds(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0];
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.reduce((sum, v) => sum + v, 0);
  const idle = values[3] + (values[4] ?? 0);
  return { busy: (total - idle) / TICKS_PER_SECOND, total: total / TICKS_PER_SECOND };
}

export interface CpuShares {
  /** Seconds of the window. */
  seconds: number;
  /** Percent of one core each part used during the window (200 % = both cores of a 2-core machine). */
  percentOfOneCore: Record<string, number>;
  /** Percent of the whole machine that was busy (all processes, other users included). */
  machineBusyPercent: number;
}

/**
 * Measures where CPU went between `start()` and `stop()`: named pids (a gateway child), the bench process itself,
 * every process with a given command name (postgres backends come and go, so each is summed by pid), and the
 * whole machine.
 */
export class CpuMeter {
  private startedAt = 0;
  private machine = { busy: 0, total: 0 };
  private bench = 0;
  private pids = new Map<string, number>();
  private named = new Map<string, Map<number, number>>();

  constructor(
    private readonly children: Record<string, number>,
    private readonly commands: Record<string, readonly string[]> = {
      postgres: ["postgres"],
      redis: ["redis-server"],
    },
  ) {}

  start(): void {
    this.startedAt = performance.now();
    this.machine = machineSeconds();
    const usage = process.cpuUsage();
    this.bench = (usage.user + usage.system) / 1e6;
    this.pids = new Map(Object.entries(this.children).map(([label, pid]) => [label, cpuSeconds(pid)]));
    this.named = new Map(
      Object.entries(this.commands).map(([label, names]) => [
        label,
        new Map(pidsNamed(names).map((pid) => [pid, cpuSeconds(pid)])),
      ]),
    );
  }

  stop(): CpuShares {
    const seconds = (performance.now() - this.startedAt) / 1000;
    const share = (used: number) => Math.round((used / seconds) * 1000) / 10;
    const percentOfOneCore: Record<string, number> = {};
    for (const [label, pid] of Object.entries(this.children)) {
      percentOfOneCore[label] = share(cpuSeconds(pid) - (this.pids.get(label) ?? 0));
    }
    const usage = process.cpuUsage();
    percentOfOneCore.bench = share((usage.user + usage.system) / 1e6 - this.bench);
    for (const [label, names] of Object.entries(this.commands)) {
      const before = this.named.get(label) ?? new Map<number, number>();
      let used = 0;
      for (const pid of pidsNamed(names)) used += cpuSeconds(pid) - (before.get(pid) ?? 0);
      percentOfOneCore[`${label} (all)`] = share(used);
    }
    const machine = machineSeconds();
    const machineBusyPercent =
      Math.round(
        ((machine.busy - this.machine.busy) / Math.max(1e-9, machine.total - this.machine.total)) * 1000,
      ) / 10;
    return { seconds, percentOfOneCore, machineBusyPercent };
  }
}

export function describeCpu(shares: CpuShares): string {
  const parts = Object.entries(shares.percentOfOneCore).map(([label, pct]) => `${label} ${pct.toFixed(0)}%`);
  return `CPU (% of one core): ${parts.join(", ")}; machine busy ${shares.machineBusyPercent.toFixed(0)}%`;
}
