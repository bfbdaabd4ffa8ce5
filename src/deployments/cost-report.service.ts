import type { DataSource } from "typeorm";
import { In } from "typeorm";
import { apportion, unitsToUsd, USD_UNIT_MICROS } from "../costs/apportion";
import { percentOf } from "../costs/money";
import { runningMicrosPerHour } from "../costs/pricing";
import { projectCost } from "../costs/projection";
import type { GpuType } from "../runpod/gpu-catalogue";
import type { CostReport } from "./cost-report.types";
import { Deployment } from "./deployment.entity";
import { ACTIVE_DEPLOYMENT_STATUSES } from "./deployment.enums";
import { deploymentErrors } from "./deployment.errors";

/** The longest range a report covers (its byDay has a row per day). */
const MAX_RANGE_DAYS = 400;
const UNIT = USD_UNIT_MICROS;
const toUsd = unitsToUsd;

/**
 * Each deployment's cost in the range, prorated when its billing window straddles an edge: the window runs
 * from creation to the last time its cost was brought up to date, and cost is taken as spread evenly over it.
 * Per UTC day and per GPU type the same way. All in SQL over the user's deployments; `numeric` keeps it exact.
 */
const COSTS_SQL = `
WITH windows AS (
  SELECT d.id, d.gpu_type, d.gpu_count, d.actual_cost, d.uptime_seconds,
         d.created_at AS s, GREATEST(d.created_at, COALESCE(d.last_observed_at, d.created_at)) AS e
  FROM cloud_deployments d
  WHERE d.user_id = $1 AND d.created_at < $3 AND COALESCE(d.last_observed_at, d.created_at) >= $2
),
shares AS (
  SELECT w.*,
         CASE WHEN w.e = w.s THEN (CASE WHEN w.s >= $2 AND w.s < $3 THEN 1 ELSE 0 END)::numeric
              ELSE GREATEST(0, EXTRACT(EPOCH FROM LEAST(w.e, $3) - GREATEST(w.s, $2)))::numeric
                   / EXTRACT(EPOCH FROM w.e - w.s)::numeric
         END AS share
  FROM windows w
)
SELECT 'deployment' AS kind, id::text AS key, (actual_cost * 1000000 * share)::text AS micros,
       (uptime_seconds * gpu_count * share)::text AS gpu_seconds
FROM shares WHERE share > 0
UNION ALL
SELECT 'day', to_char(day, 'YYYY-MM-DD'),
       SUM(actual_cost * 1000000 *
           CASE WHEN e = s THEN 1
                ELSE GREATEST(0, EXTRACT(EPOCH FROM LEAST(e, $3, day + interval '1 day') - GREATEST(s, $2, day)))::numeric
                     / EXTRACT(EPOCH FROM e - s)::numeric END)::text,
       NULL::text
FROM shares
CROSS JOIN LATERAL generate_series(
  date_trunc('day', GREATEST(s, $2) AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
  LEAST(e, $3 - interval '1 millisecond'),
  interval '1 day') AS day
WHERE share > 0
GROUP BY day`;

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
    const rows = await this.db.query<
      { kind: "deployment" | "day"; key: string; micros: string; gpu_seconds: string | null }[]
    >(COSTS_SQL, [userId, start, end]);
    const perDeployment = rows.filter((r) => r.kind === "deployment");
    const perDay = rows.filter((r) => r.kind === "day").sort((a, b) => a.key.localeCompare(b.key));
    const exact = perDeployment.map((r) => Number(r.micros));
    const totalUnits = Math.round(exact.reduce((sum, v) => sum + v, 0) / UNIT);

    const deployments = perDeployment.length
      ? await this.db.getRepository(Deployment).findBy({ id: In(perDeployment.map((r) => r.key)) })
      : [];
    const byId = new Map(deployments.map((d) => [d.id, d]));
    const deploymentUnits = apportion(exact, totalUnits);
    const deploymentCosts = perDeployment
      .map((row, i) => {
        const deployment = byId.get(row.key)!;
        return {
          deployment,
          costUsd: toUsd(deploymentUnits[i]),
          budgetLimitUsd: deployment.budgetLimitUsd,
          budgetUsedPercent: percentOf(deploymentUnits[i] * UNIT, deployment.budgetLimitMicros),
        };
      })
      .sort(
        (a, b) =>
          b.costUsd - a.costUsd || b.deployment.createdAt.getTime() - a.deployment.createdAt.getTime(),
      );

    // By GPU type: the deployments' apportioned units summed, so this partition adds up to the total as well.
    const gpu = new Map<GpuType, { units: number; gpuSeconds: number }>();
    perDeployment.forEach((row, i) => {
      const type = byId.get(row.key)!.gpuType;
      const entry = gpu.get(type) ?? { units: 0, gpuSeconds: 0 };
      entry.units += deploymentUnits[i];
      entry.gpuSeconds += Number(row.gpu_seconds ?? 0);
      gpu.set(type, entry);
    });
    const dayUnits = apportion(
      perDay.map((r) => Number(r.micros)),
      totalUnits,
    );

    const active = await this.db.getRepository(Deployment).find({
      where: { userId, status: In([...ACTIVE_DEPLOYMENT_STATUSES]) },
    });
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
      deployments: deploymentCosts,
      byGpuType: [...gpu.entries()]
        .map(([gpuType, v]) => ({
          gpuType,
          gpuHours: Math.round((v.gpuSeconds / 3600) * 10_000) / 10_000,
          costUsd: toUsd(v.units),
        }))
        .sort((a, b) => b.costUsd - a.costUsd),
      byDay: perDay.map((r, i) => ({ day: r.key, costUsd: toUsd(dayUnits[i]) })),
    };
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
