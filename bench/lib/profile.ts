/**
 * Summaries of V8 CPU profiles (`node --cpu-prof`): where the busy time went, by function and by package.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  file: string;
  busyMs: number;
  idleMs: number;
  /** Self time by package (node_modules/<pkg>), "node internals", "project src", GC, program. */
  byArea: { area: string; ms: number; percentOfBusy: number }[];
  topFunctions: { fn: string; where: string; ms: number; percentOfBusy: number }[];
}

function areaOf(frame: ProfileNode["callFrame"], repoRoot: string): string {
  const { url, functionName } = frame;
  if (!url) {
    if (functionName === "(garbage collector)") return "GC";
    if (functionName === "(program)") return "(program: native, not attributed)";
    if (functionName === "(idle)") return "(idle)";
    return "native";
  }
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1];
  if (url.startsWith("node:")) return "node internals";
  if (url.startsWith("wasm://")) return "WebAssembly (PGlite's Postgres)";
  const file = url.replace(/^file:\/\//, "");
  if (file.startsWith(repoRoot)) return path.relative(repoRoot, file).split(path.sep).slice(0, 2).join("/");
  return "other";
}

export function summarizeProfile(file: string, repoRoot: string, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    // timeDeltas[i] is the time before sample i; the time after it is the next delta.
    const delta = profile.timeDeltas[i + 1] ?? 0;
    selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + delta);
  }
  let idle = 0;
  let busy = 0;
  const areas = new Map<string, number>();
  const functions = new Map<string, { fn: string; where: string; us: number }>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const area = areaOf(node.callFrame, repoRoot);
    if (area === "(idle)") {
      idle += us;
      continue;
    }
    busy += us;
    areas.set(area, (areas.get(area) ?? 0) + us);
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url
      ? `${url.replace(/^file:\/\//, "").replace(`${repoRoot}/`, "")}:${lineNumber + 1}`
      : "(native)";
    const key = `${functionName}@${where}`;
    const entry = functions.get(key) ?? { fn: functionName || "(anonymous)", where, us: 0 };
    entry.us += us;
    functions.set(key, entry);
  }
  const pct = (us: number) => Math.round((us / Math.max(1, busy)) * 1000) / 10;
  return {
    file,
    busyMs: Math.round(busy / 1000),
    idleMs: Math.round(idle / 1000),
    byArea: [...areas]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 20)
      .map(([area, us]) => ({ area, ms: Math.round(us / 1000), percentOfBusy: pct(us) })),
    topFunctions: [...functions.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map(({ fn, where, us }) => ({ fn, where, ms: Math.round(us / 1000), percentOfBusy: pct(us) })),
  };
}

/** The newest .cpuprofile in `dir`. */
export function newestProfile(dir: string): string | undefined {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".cpuprofile"))
    .map((f) => path.join(dir, f));
  return files.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}

export function printProfile(summary: ProfileSummary): void {
  console.log(`\n  CPU profile ${summary.file}`);
  console.log(`  busy ${summary.busyMs} ms, idle ${summary.idleMs} ms; self time by area (% of busy):`);
  for (const a of summary.byArea.slice(0, 12))
    console.log(`    ${a.percentOfBusy.toFixed(1).padStart(5)}%  ${a.area}`);
  console.log(`  top functions by self time:`);
  for (const f of summary.topFunctions.slice(0, 20))
    console.log(`    ${f.percentOfBusy.toFixed(1).padStart(5)}%  ${f.fn}  ${f.where}`);
}
