/**
 * costs-report: what your fine-tuning cost this month, by GPU type and by day, with the current burn rate and
 * the projection.
 *
 *   npx tsx client-examples/costs-report.ts [--month 2026-05 | --from 2026-05-01 --to 2026-05-15]
 *
 * One `costs(from, to)` query over HTTP with graphql-request. Dates are UTC. A bare day is a whole day: `--to
 * 2026-05-15` includes the 15th. Exit status: 0 printed; 1 the gateway answered an error (its
 * `extensions.code` is printed); 2 usage mistake.
 */
import { parseArgs } from "node:util";
import { graphql } from "./gql";
import type { CostsQuery } from "./gql/graphql";
import { formatUsd } from "./lib/chart";
import { describeError, Failure, graphqlClient, readSettings, runMain, UsageError } from "./lib/gateway";

const USAGE = `usage: npx tsx client-examples/costs-report.ts [options]

  --month <YYYY-MM>            a calendar month (UTC); default: the current one
  --from <date>, --to <date>   a range instead: YYYY-MM-DD (whole days, both included) or ISO date-times
  --top <n>                    deployments listed, most expensive first (default 10; 0: none)
  --url <url>                  gateway base URL (default $TRAINGATE_URL or http://localhost:4000)
  --token <jwt>                user token (default $TRAINGATE_TOKEN; npm run demo prints one)`;

/** The answer, typed by graphql-codegen from the document below (`npm run codegen`). */
type CostReport = CostsQuery["costs"];

const COSTS = graphql(`
  query Costs($from: DateTime, $to: DateTime, $first: Int) {
    costs(from: $from, to: $to) {
      from
      to
      totalUsd
      activeBurnRateUsdPerHour
      projectedUsd
      byGpuType {
        gpuType
        gpuHours
        costUsd
      }
      byDay {
        day
        costUsd
      }
      deploymentCount
      deployments(first: $first) {
        costUsd
        budgetLimitUsd
        budgetUsedPercent
        deployment {
          id
          status
          gpuType
          createdAt
          trainingConfig {
            name
          }
        }
      }
    }
  }
`);

async function main(): Promise<number> {
  const args = parseCli();
  const settings = readSettings(args);
  const range = period(args, new Date());
  const top = args.top === undefined ? 10 : Number(args.top);
  if (!Number.isInteger(top) || top < 0) throw new UsageError("--top must be a whole number >= 0");

  let report: CostReport;
  try {
    ({ costs: report } = await graphqlClient(settings).request(COSTS, {
      from: range.from.toISOString(),
      to: range.to.toISOString(),
      // The report lists at most 1,000 deployments.
      first: Math.min(top, 1_000),
    }));
  } catch (error) {
    throw new Failure(describeError(error, settings));
  }
  process.stdout.write(`${render(report, top).join("\n")}\n`);
  return 0;
}

function parseCli() {
  try {
    const { values } = parseArgs({
      options: {
        month: { type: "string" },
        from: { type: "string" },
        to: { type: "string" },
        top: { type: "string" },
        url: { type: "string" },
        token: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    }
    return values;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/** The UTC range asked for: `[from, to)`. */
function period(args: { month?: string; from?: string; to?: string }, now: Date): { from: Date; to: Date } {
  if (args.month !== undefined) {
    if (args.from !== undefined || args.to !== undefined)
      throw new UsageError("--month or --from/--to, not both");
    const match = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(args.month);
    if (!match) throw new UsageError(`--month must be YYYY-MM, not ${args.month}`);
    const [year, month] = [Number(match[1]), Number(match[2]) - 1];
    return { from: new Date(Date.UTC(year, month, 1)), to: new Date(Date.UTC(year, month + 1, 1)) };
  }
  const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const nextMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
  const from = args.from === undefined ? monthStart : parseDate(args.from, "--from", false);
  const to = args.to === undefined ? nextMonth : parseDate(args.to, "--to", true);
  if (from >= to) throw new UsageError(`--from must come before --to`);
  return { from, to };
}

/** `YYYY-MM-DD` is midnight UTC (the next midnight for an inclusive end); anything else must be ISO-8601. */
function parseDate(value: string, option: string, endOfDay: boolean): Date {
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    const day = new Date(`${value}T00:00:00Z`);
    if (Number.isNaN(day.getTime())) throw new UsageError(`${option}: not a date: ${value}`);
    return endOfDay ? new Date(day.getTime() + 86_400_000) : day;
  }
  const at = new Date(value);
  if (Number.isNaN(at.getTime()) || !/^\d{4}-\d{2}-\d{2}T/.test(value)) {
    throw new UsageError(`${option} must be YYYY-MM-DD or an ISO-8601 date-time, not ${value}`);
  }
  return at;
}

function render(report: CostReport, top: number): string[] {
  const out: string[] = [];
  const lastDay = new Date(new Date(report.to).getTime() - 1).toISOString().slice(0, 10);
  out.push(`TrainGate costs ${report.from.slice(0, 10)} .. ${lastDay} (UTC)`, "");

  const gpuHours = report.byGpuType.reduce((sum, row) => sum + row.gpuHours, 0);
  const share = (usd: number) =>
    report.totalUsd > 0 ? `${((usd / report.totalUsd) * 100).toFixed(1)}%` : "-";
  out.push("By GPU type");
  out.push(
    ...table(
      ["GPU type", "GPU-hours", "USD", "share"],
      [
        ...[...report.byGpuType]
          .sort((a, b) => b.costUsd - a.costUsd)
          .map((row) => [row.gpuType, row.gpuHours.toFixed(2), formatUsd(row.costUsd), share(row.costUsd)]),
        ["total", gpuHours.toFixed(2), formatUsd(report.totalUsd), report.totalUsd > 0 ? "100.0%" : "-"],
      ],
    ),
    "",
  );

  const days = [...report.byDay].sort((a, b) => a.day.localeCompare(b.day));
  const maxDay = Math.max(0, ...days.map((d) => d.costUsd));
  out.push("By day");
  out.push(
    ...table(
      ["day", "USD", ""],
      [
        ...days.map((d) => [
          d.day,
          formatUsd(d.costUsd),
          "#".repeat(maxDay > 0 ? Math.round((d.costUsd / maxDay) * 30) : 0),
        ]),
        ["total", formatUsd(report.totalUsd), ""],
      ],
    ),
    "",
  );

  if (top > 0 && report.deployments.length > 0) {
    const shown = [...report.deployments].sort((a, b) => b.costUsd - a.costUsd).slice(0, top);
    out.push(`Deployments (${shown.length} of ${report.deploymentCount}, most expensive first)`);
    out.push(
      ...table(
        ["deployment", "config", "GPU", "status", "USD", "budget", "used"],
        shown.map((row) => [
          row.deployment.id,
          row.deployment.trainingConfig.name,
          row.deployment.gpuType,
          row.deployment.status,
          formatUsd(row.costUsd),
          formatUsd(row.budgetLimitUsd),
          `${row.budgetUsedPercent.toFixed(1)}%`,
        ]),
      ),
      "",
    );
  }

  out.push(`Total spent:    ${formatUsd(report.totalUsd)}`);
  out.push(`Burn rate now:  ${formatUsd(report.activeBurnRateUsdPerHour)}/h (running deployments)`);
  out.push(
    `Projected:      ${formatUsd(report.projectedUsd)} (spent + what running deployments spend by their ETA)`,
  );
  return out;
}

/** Columns padded to their widest cell; text left-aligned, numbers (and amounts) right-aligned. */
function table(headers: string[], rows: string[][]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => /^[$\d.%-]*$/.test(r[i] ?? "")));
  const line = (cells: string[]) =>
    `  ${cells
      .map((cell, i) => (numeric[i] ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
      .join("  ")
      .trimEnd()}`;
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)];
}

runMain(main, USAGE);
