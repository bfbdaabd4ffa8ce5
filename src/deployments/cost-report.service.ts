import type { DataSource } from "typeorm";
import { In } from "typeorm";
import { apportion, unitsToUsd, USD_UNIT_MICROS } from "../costs/apportion";
import { percentOf } from "../costs/money";
import { runningMicrosPerHour } from "../costs/pricing";
import { projectCost } from "../costs/projection";
import type { GpuType } from "../runpod/gpu-catalogue";
import type { CostReport, DeploymentCost } from "./cost-report.types";
import { Deployment } from "./deployment.entity";
import { ACTIVE_DEPLOYMENT_STATUSES } from "./deployment.enums";
import { deploymentErrors } from "./deployment.errors";

/** The longest range a report covers (its byDay has a row per day). */
const MAX_RANGE_DAYS = 400;
/** The most deployments `CostReport.deployments(first)` lists. */
export const MAX_FIRST = 1_000;
const UNIT = USD_UNIT_MICROS;
const toUsd = unitsToUsd;

/**
 * A deployment's cost in the range is its cost spread evenly over its billing window (from creation to the last
 * time its cost was brought up to date) and prorated at the range's edges; the same per UTC day. The windows
 * come from `cost_windows` (see the CostRollup migration), one index range of the user's.
 */
const WINDOWS = `
  SELECT c.deployment_id AS id, c.gpu_type, c.micros, c.gpu_seconds, c.starts_at AS s,
         GREATEST(c.starts_at, c.ends_at) AS e
  FROM cost_windows c
  WHERE c.user_id = $1 AND c.starts_at < $3 AND c.ends_at >= $2`;

/** A window's share of its cost inside [$2, $3): 1 when it lies inside, a zero-length one inside counting whole. */
const SHARE = `
  CASE WHEN w.s >= $2 AND w.e <= $3 THEN 1
       WHEN w.e = w.s THEN 0
       ELSE GREATEST(0, EXTRACT(EPOCH FROM LEAST(w.e, $3) - GREATEST(w.s, $2)))::numeric
            / EXTRACT(EPOCH FROM w.e - w.s)::numeric END`;

/**
 * Each deployment's exact micro-dollars and GPU-seconds in the range (as float8: the same doubles as reading the
 * `numeric` text; a window inside the range counts whole, so no division), the total in API units (rounded half
 * up), and each deployment's units by largest remainder as `apportion` gives them: its floor of
 * units x total / sum, plus one for the `left` largest remainders (ties: by id), `cut` being the last of those.
 * Answers the `$4` deployments that cost most (ties: the newer first), the units and GPU-seconds per GPU type, and
 * the total with the count of deployments that cost anything.
 */
const DEPLOYMENTS_SQL = `
WITH f AS MATERIALIZED (
  SELECT w.id, w.gpu_type, w.s,
         CASE WHEN w.inside THEN w.micros::float8 ELSE (w.micros::numeric * w.share)::float8 END AS m,
         CASE WHEN w.inside THEN w.gpu_seconds::float8 ELSE (w.gpu_seconds::numeric * w.share)::float8 END AS gs
  FROM (SELECT w.*, w.s >= $2 AND w.e <= $3 AS inside, ${SHARE} AS share FROM (${WINDOWS}) w) w
  WHERE w.share > 0
),
t AS (
  SELECT floor(COALESCE(SUM(m), 0) / ${UNIT} + 0.5) AS total, COALESCE(SUM(GREATEST(m, 0) / ${UNIT}), 0) AS units,
         COUNT(*) FILTER (WHERE m > 0) AS n
  FROM f
),
v AS NOT MATERIALIZED (
  SELECT f.id, f.gpu_type, f.s, f.m, f.gs,
         CASE WHEN t.units = 0 OR t.total <= 0 THEN 0 ELSE (GREATEST(f.m, 0) / ${UNIT} * t.total) / t.units END AS v
  FROM f, t
),
k AS (SELECT t.total - (SELECT COALESCE(SUM(floor(v)), 0) FROM v) AS left_units FROM t),
cut AS (
  SELECT v - floor(v) AS frac, id FROM v
  ORDER BY v - floor(v) DESC, id LIMIT (SELECT GREATEST(left_units, 0) FROM k)
),
last_cut AS (SELECT frac, id FROM cut ORDER BY frac, id DESC LIMIT 1),
u AS NOT MATERIALIZED (
  SELECT v.id, v.gpu_type, v.s, v.m, v.gs,
         (floor(v.v) + CASE WHEN c.frac IS NOT NULL AND (v.v - floor(v.v) > c.frac OR (v.v - floor(v.v) = c.frac AND v.id <= c.id))
                            THEN 1 ELSE 0 END)::int AS units
  FROM v LEFT JOIN last_cut c ON true
)
SELECT 'deployment' AS kind, top.id::text AS key, top.units, NULL::float8 AS gpu_seconds
FROM (SELECT id, units FROM u WHERE m > 0 ORDER BY units DESC, s DESC, id LIMIT $4) top
UNION ALL
SELECT 'gpu', gpu_type, SUM(units)::int, SUM(gs) FROM u GROUP BY gpu_type
UNION ALL
SELECT 'total', NULL, total::int, n::float8 FROM t`;

/** Midnight UTC of the day holding `$n`. */
const dayOf = (param: string) => `date_trunc('day', ${param} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`;

/**
 * The exact micro-dollars per UTC day: a whole day inside the range is its `cost_user_days` sum; the first day
 * and the last (which the range may cut) are summed afresh over the deployments touching them (`cost_days`).
 */
const DAYS_SQL = `
WITH edges AS (SELECT ${dayOf("$2::timestamptz")} AS first_day,
                      ${dayOf("($3::timestamptz - interval '1 millisecond')")} AS last_day)
SELECT to_char(u.day, 'YYYY-MM-DD') AS key, u.micros::text AS micros
FROM cost_user_days u, edges
WHERE u.user_id = $1 AND u.day > edges.first_day AND u.day < edges.last_day AND u.deployments > 0
UNION ALL
SELECT to_char(d.day, 'YYYY-MM-DD'),
       SUM(w.micros::numeric *
           CASE WHEN w.e = w.s THEN 1
                ELSE GREATEST(0, EXTRACT(EPOCH FROM LEAST(w.e, $3, d.day + interval '1 day') - GREATEST(w.s, $2, d.day)))::numeric
                     / EXTRACT(EPOCH FROM w.e - w.s)::numeric END)::text
FROM edges
JOIN cost_days d ON d.user_id = $1 AND d.day IN (edges.first_day, edges.last_day)
JOIN LATERAL (${WINDOWS.replace("WHERE", "WHERE c.deployment_id = d.deployment_id AND")}) w ON true
WHERE ${SHARE} > 0
GROUP BY d.day`;

export class CostReportService {
  constructor(private readonly db: DataSource) {}

  async report(
    userId: string,
    from: Date | null | undefined,
    to: Date | null | undefined,
    now = new Date(),
  ): Promise<CostReport> {
    const end = to ?? now;
    const start = from ?? new Date(Date.UTC(end.getUTCFullYear(), end.getUTCMonth(), 1));
    if (start.getTime() >= end.getTime()) {
      throw deploymentErrors.badInput("from", "must be before to");
    }
    if (end.getTime() - start.getTime() > MAX_RANGE_DAYS * 86_400_000) {
      throw deploymentErrors.badInput("to", `a report covers at most ${MAX_RANGE_DAYS} days`);
    }
    const [rows, perDay, active] = await Promise.all([
      this.db.query<
        {
          kind: "deployment" | "gpu" | "total";
          key: string | null;
          units: number;
          gpu_seconds: number | null;
        }[]
      >(DEPLOYMENTS_SQL, [userId, start, end, MAX_FIRST]),
      this.db.query<{ key: string; micros: string }[]>(DAYS_SQL, [userId, start, end]),
      this.db.getRepository(Deployment).find({
        where: { userId, status: In([...ACTIVE_DEPLOYMENT_STATUSES]) },
      }),
    ]);
    const totals = rows.find((r) => r.kind === "total")!;
    const totalUnits = totals.units;
    perDay.sort((a, b) => a.key.localeCompare(b.key));
    const dayUnits = apportion(
      perDay.map((r) => Number(r.micros)),
      totalUnits,
    );

    const remaining = await this.remainingSeconds(active.map((d) => d.jobId));
    let burnMicros = 0;
    let stillToSpend = 0;
    for (const d of active) {
      const disks = { volumeGb: d.config.volumeSizeGb, containerGb: d.config.containerDiskGb };
      burnMicros += runningMicrosPerHour(d.costPerHourMicros ?? 0, disks);
      // The same projection as the deployment's projectedCostUsd: what it still spends is that less its cost.
      const projected = projectCost({
        active: true,
        actualMicros: d.actualCostMicros,
        costPerHourMicros: d.costPerHourMicros,
        disks,
        budgetLimitMicros: d.budgetLimitMicros,
        remainingSeconds: remaining.get(d.jobId),
      });
      if (projected !== null) stillToSpend += projected - d.actualCostMicros;
    }

    return {
      from: start,
      to: end,
      totalUsd: toUsd(totalUnits),
      activeBurnRateUsdPerHour: toUsd(Math.round(burnMicros / UNIT)),
      projectedUsd: toUsd(totalUnits + Math.round(stillToSpend / UNIT)),
      ranked: rows
        .filter((r) => r.kind === "deployment")
        .map((r) => ({ id: r.key!, units: Number(r.units) })),
      deploymentCount: Number(totals.gpu_seconds),
      // The deployments' apportioned units summed per type, so this partition adds up to the total as well.
      byGpuType: rows
        .filter((r) => r.kind === "gpu")
        .map((r) => ({
          gpuType: r.key as GpuType,
          gpuHours: Math.round((Number(r.gpu_seconds) / 3600) * 10_000) / 10_000,
          costUsd: toUsd(Number(r.units)),
        }))
        .sort((a, b) => b.costUsd - a.costUsd || a.gpuType.localeCompare(b.gpuType)),
      byDay: perDay.map((r, i) => ({ day: r.key, costUsd: toUsd(dayUnits[i]) })),
    };
  }

  /**
   * The `first` deployments of a report that cost most (ties: the newer first), with their entities. `first`
   * is 0 to MAX_FIRST.
   */
  async deployments(report: CostReport, first: number): Promise<DeploymentCost[]> {
    if (!Number.isInteger(first) || first < 0 || first > MAX_FIRST) {
      throw deploymentErrors.badInput("first", `must be between 0 and ${MAX_FIRST}`);
    }
    const page = report.ranked.slice(0, first);
    if (page.length === 0) return [];
    const entities = await this.db.getRepository(Deployment).findBy({ id: In(page.map((r) => r.id)) });
    const byId = new Map(entities.map((d) => [d.id, d]));
    return page.flatMap(({ id, units }) => {
      const deployment = byId.get(id);
      if (!deployment) return [];
      return [
        {
          deployment,
          costUsd: toUsd(units),
          budgetLimitUsd: deployment.budgetLimitUsd,
          budgetUsedPercent: percentOf(units * UNIT, deployment.budgetLimitMicros),
        },
      ];
    });
  }

  /** The remaining seconds each job's trainer last reported. */
  private async remainingSeconds(jobIds: string[]): Promise<Map<string, number>> {
    if (jobIds.length === 0) return new Map();
    // The latest point of each job by one backward index probe (see MetricQueryService.latest).
    const rows = await this.db.query<{ job_id: string; remaining_seconds: number | null }[]>(
      `SELECT j.id AS job_id,
              (SELECT m.remaining_seconds FROM training_metrics m WHERE m.job_id = j.id ORDER BY m.step DESC LIMIT 1)
                AS remaining_seconds
       FROM unnest($1::uuid[]) AS j(id)`,
      [jobIds],
    );
    return new Map(
      rows.filter((r) => r.remaining_seconds !== null).map((r) => [r.job_id, r.remaining_seconds!]),
    );
  }
}
