import type { DataSource } from "typeorm";
import { In } from "typeorm";
import { apportion, unitsToUsd, USD_UNIT_MICROS } from "../costs/apportion";
import { percentOf } from "../costs/money";
import { runningMicrosPerHour } from "../costs/pricing";
import { projectCost } from "../costs/projection";
import type { GpuType } from "../runpod/gpu-catalogue";
import type { CostReport, DeploymentCost } from "./cost-report.types";
import { Deployment } from "./deployment.entity";
import { ACTIVE_DEPLOYMENT_STATUSES, DeploymentStatus } from "./deployment.enums";
import { deploymentErrors } from "./deployment.errors";

/** Whose costs, over which range (checked by `CostReportService.range`). */
export interface CostRange {
  readonly userId: string;
  readonly from: Date;
  readonly to: Date;
}

/** The longest range a report covers (its byDay has a row per day). */
const MAX_RANGE_DAYS = 400;
/** The most deployments `CostReport.deployments(first)` lists. */
export const MAX_FIRST = 1_000;
const UNIT = USD_UNIT_MICROS;
const toUsd = unitsToUsd;

/** Midnight UTC of the day holding a timestamp. */
const dayOf = (ts: string) => `date_trunc('day', ${ts} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`;

/**
 * The range's whole UTC days are [lo, hi); the day it starts in when that is not at midnight (`first_partial`) and
 * the day it ends in when that is not at midnight (`last_partial`) it cuts. The rollup tables (see the CostRollup
 * migration) answer for whole days; what a cut day or the range's edges touch is computed afresh.
 */
const BOUNDS = `bounds AS (
  SELECT b.lo, b.hi, CASE WHEN $2 < b.lo THEN ${dayOf("$2::timestamptz")} END AS first_partial,
         CASE WHEN $3 > b.hi THEN b.hi END AS last_partial
  FROM (SELECT ${dayOf("($2::timestamptz + interval '1 day' - interval '1 microsecond')")} AS lo,
               ${dayOf("$3::timestamptz")} AS hi) b
)`;

/**
 * A deployment's cost in the range is its cost spread evenly over its billing window (from creation to the last
 * time its cost was brought up to date) and prorated at the range's edges. `touching`: every deployment overlapping
 * the range but the ones created on a whole day and ending before `hi` (those count whole): the ones touching a cut
 * day, and the ones created before the whole day they touch at either end. Each with its exact micro-dollars and
 * GPU-seconds in the range and whether it was created on a whole day.
 */
const TOUCHING = `
touching AS (
  SELECT w.id, w.gpu_type, w.s, w.micros, w.gpu_seconds, w.s >= bounds.lo AND w.s < bounds.hi AS created_inside,
         w.micros::numeric * w.share AS m, w.gpu_seconds::numeric * w.share AS gs
  FROM bounds,
       LATERAL (
         SELECT v.*,
                CASE WHEN v.s >= $2 AND v.e <= $3 THEN 1
                     WHEN v.e = v.s THEN 0
                     ELSE GREATEST(0, EXTRACT(EPOCH FROM LEAST(v.e, $3) - GREATEST(v.s, $2)))::numeric
                          / EXTRACT(EPOCH FROM v.e - v.s)::numeric END AS share
         FROM (SELECT c.deployment_id AS id, c.gpu_type, c.micros, c.gpu_seconds, c.starts_at AS s,
                      GREATEST(c.starts_at, c.ends_at) AS e
               FROM cost_windows c
               WHERE c.deployment_id = ANY(ARRAY(
                       SELECT d.deployment_id FROM cost_days d
                       WHERE d.user_id = $1
                         AND (d.day IN (bounds.first_partial, bounds.last_partial)
                              OR (d.carried AND d.day IN (bounds.lo, bounds.hi)))))
                 AND c.starts_at < $3 AND c.ends_at >= $2) v
       ) w
  WHERE w.share > 0
)`;

/**
 * Per GPU type: the exact micro-dollars and GPU-seconds in the range, and how many deployments cost anything. The
 * deployments created on the whole days come summed from `cost_user_created_days` at their whole cost; those of
 * them among `touching` (running on past hi) are taken back out and added prorated.
 */
const BY_GPU_TYPE_SQL = `
WITH ${BOUNDS}, ${TOUCHING}
SELECT gpu_type, SUM(micros)::text AS micros, SUM(gpu_seconds)::text AS gpu_seconds, SUM(costing)::int AS costing
FROM (
  SELECT c.gpu_type, c.micros::numeric AS micros, c.gpu_seconds::numeric AS gpu_seconds, c.costing
  FROM cost_user_created_days c, bounds
  WHERE c.user_id = $1 AND c.day >= bounds.lo AND c.day < bounds.hi AND c.deployments <> 0
  UNION ALL
  SELECT gpu_type, m, gs, (m > 0)::int FROM touching
  UNION ALL
  SELECT gpu_type, -micros, -gpu_seconds, -(micros > 0)::int FROM touching WHERE created_inside
) parts
GROUP BY gpu_type`;

/**
 * The `$4` deployments that cost most in the range (ties: the newer first), with their exact micro-dollars: the
 * dearest created on a whole day and ending before hi (inside the range, at their whole cost: an index walk), and
 * `touching`.
 */
const DEAREST_SQL = `
WITH ${BOUNDS}, ${TOUCHING}
SELECT id, m::float8 AS micros, row_number() OVER (ORDER BY m DESC, s DESC, id) AS rank
FROM (
  SELECT id, s, m FROM touching WHERE m > 0
  UNION ALL
  (SELECT c.deployment_id, c.starts_at, c.micros::numeric
   FROM cost_windows c, bounds
   WHERE c.user_id = $1 AND c.micros > 0 AND c.starts_at >= bounds.lo AND c.starts_at < bounds.hi
     AND c.ends_at < bounds.hi
   ORDER BY c.micros DESC, c.starts_at DESC
   LIMIT $4)
) candidates
ORDER BY m DESC, s DESC, id
LIMIT $4`;

/** DEAREST_SQL's positional parameters by name, for TypeORM's query builder. */
const DEAREST_NAMED = DEAREST_SQL.replace(
  /\$([1-4])\b/g,
  (_, n: string) => `:${["userId", "from", "to", "first"][Number(n) - 1]}`,
);

/**
 * The exact micro-dollars per UTC day: a whole day is its `cost_user_days` sum (on the range's first midnight,
 * less the deployments that end exactly there: they cost nothing in the range); a cut day is summed afresh over
 * the deployments touching it.
 */
const DAYS_SQL = `
WITH ${BOUNDS}
SELECT to_char(u.day, 'YYYY-MM-DD') AS key, u.micros::text AS micros
FROM cost_user_days u, bounds
WHERE u.user_id = $1 AND u.day >= bounds.lo AND u.day < bounds.hi
  AND u.deployments > CASE WHEN u.day = $2 THEN (
        SELECT COUNT(*) FROM cost_days d JOIN cost_windows c ON c.deployment_id = d.deployment_id
        WHERE d.user_id = $1 AND d.day = u.day AND d.carried AND GREATEST(c.starts_at, c.ends_at) = u.day)
      ELSE 0 END
UNION ALL
SELECT to_char(d.day, 'YYYY-MM-DD'),
       SUM(w.micros::numeric *
           CASE WHEN w.e = w.s THEN 1
                ELSE GREATEST(0, EXTRACT(EPOCH FROM LEAST(w.e, $3, d.day + interval '1 day') - GREATEST(w.s, $2, d.day)))::numeric
                     / EXTRACT(EPOCH FROM w.e - w.s)::numeric END)::text
FROM bounds
JOIN cost_days d ON d.user_id = $1 AND d.day IN (bounds.first_partial, bounds.last_partial)
JOIN LATERAL (SELECT c.micros, c.starts_at AS s, GREATEST(c.starts_at, c.ends_at) AS e
              FROM cost_windows c
              WHERE c.deployment_id = d.deployment_id AND c.starts_at < $3 AND c.ends_at >= $2) w ON true
WHERE CASE WHEN w.s >= $2 AND w.e <= $3 THEN true
           WHEN w.e = w.s THEN false
           ELSE EXTRACT(EPOCH FROM LEAST(w.e, $3) - GREATEST(w.s, $2)) > 0 END
GROUP BY d.day`;

export class CostReportService {
  constructor(private readonly db: DataSource) {}

  /** The range a report covers: `from` defaults to the start of `to`'s UTC month, `to` to now. */
  range(
    userId: string,
    from: Date | null | undefined,
    to: Date | null | undefined,
    now = new Date(),
  ): CostRange {
    const end = to ?? now;
    const start = from ?? new Date(Date.UTC(end.getUTCFullYear(), end.getUTCMonth(), 1));
    if (start.getTime() >= end.getTime()) {
      throw deploymentErrors.badInput("from", "must be before to");
    }
    if (end.getTime() - start.getTime() > MAX_RANGE_DAYS * 86_400_000) {
      // The argument the caller gave is the one to move: `from` when `to` is the default (now).
      throw deploymentErrors.badInput(to ? "to" : "from", `a report covers at most ${MAX_RANGE_DAYS} days`);
    }
    return { userId, from: start, to: end };
  }

  async report(
    userId: string,
    from: Date | null | undefined,
    to: Date | null | undefined,
    now = new Date(),
  ): Promise<CostReport> {
    return this.summarize(this.range(userId, from, to, now));
  }

  /** The report's totals, by GPU type and by day, over a checked range. */
  async summarize({ userId, from: start, to: end }: CostRange): Promise<CostReport> {
    const [perType, perDay, active, remaining] = await Promise.all([
      this.db.query<{ gpu_type: GpuType; micros: string; gpu_seconds: string; costing: number }[]>(
        BY_GPU_TYPE_SQL,
        [userId, start, end],
      ),
      this.db.query<{ key: string; micros: string }[]>(DAYS_SQL, [userId, start, end]),
      this.db.getRepository(Deployment).find({
        where: { userId, status: In([...ACTIVE_DEPLOYMENT_STATUSES]) },
      }),
      this.remainingSeconds(userId),
    ]);
    const typeMicros = perType.map((r) => Number(r.micros));
    const totalUnits = Math.round(typeMicros.reduce((sum, v) => sum + v, 0) / UNIT);
    perDay.sort((a, b) => a.key.localeCompare(b.key));
    const dayUnits = apportion(
      perDay.map((r) => Number(r.micros)),
      totalUnits,
    );
    const typeUnits = apportion(typeMicros, totalUnits);

    let burnMicros = 0;
    let stillToSpend = 0;
    for (const d of active) {
      // Waiting for capacity: no pod, so nothing burns and nothing is projected.
      if (d.status === DeploymentStatus.QUEUED) continue;
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
      userId,
      deploymentCount: perType.reduce((sum, r) => sum + Number(r.costing), 0),
      // Apportioned by largest remainder like the days, so this partition adds up to the total as well.
      byGpuType: perType
        .map((r, i) => ({
          gpuType: r.gpu_type,
          gpuHours: Math.round((Number(r.gpu_seconds) / 3600) * 10_000) / 10_000,
          costUsd: toUsd(typeUnits[i]),
        }))
        .sort((a, b) => b.costUsd - a.costUsd || a.gpuType.localeCompare(b.gpuType)),
      byDay: perDay.map((r, i) => ({ day: r.key, costUsd: toUsd(dayUnits[i]) })),
    };
  }

  /**
   * The `first` deployments of a report that cost most (ties: the newer first), with their entities; each one's
   * cost is its exact cost in the range rounded to the API's 4 decimals. `first` is 0 to MAX_FIRST.
   */
  async deployments(range: CostRange, first: number): Promise<DeploymentCost[]> {
    if (!Number.isInteger(first) || first < 0 || first > MAX_FIRST) {
      throw deploymentErrors.badInput("first", `must be between 0 and ${MAX_FIRST}`);
    }
    if (first === 0) return [];
    // The ranking and the entities in one statement: one round trip.
    const { raw, entities } = await this.db
      .getRepository(Deployment)
      .createQueryBuilder("d")
      .innerJoin(`(${DEAREST_NAMED})`, "top", "top.id = d.id")
      .addSelect("top.micros", "top_micros")
      .addSelect("top.rank", "top_rank")
      .setParameters({ userId: range.userId, from: range.from, to: range.to, first })
      .getRawAndEntities<{ d_id: string; top_micros: number; top_rank: string }>();
    const byId = new Map(entities.map((d) => [d.id, d]));
    return raw
      .sort((a, b) => Number(a.top_rank) - Number(b.top_rank))
      .flatMap(({ d_id: id, top_micros: micros }) => {
        const deployment = byId.get(id);
        if (!deployment) return [];
        const units = Math.round(micros / UNIT);
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

  /** The remaining seconds the trainer of each of the user's active jobs last reported. */
  private async remainingSeconds(userId: string): Promise<Map<string, number>> {
    // The latest point of each job by one backward index probe (see MetricQueryService.latest).
    const rows = await this.db.query<{ job_id: string; remaining_seconds: number | null }[]>(
      `SELECT d.job_id,
              (SELECT m.remaining_seconds FROM training_metrics m WHERE m.job_id = d.job_id ORDER BY m.step DESC LIMIT 1)
                AS remaining_seconds
       FROM cloud_deployments d WHERE d.user_id = $1 AND d.status = ANY($2::text[])`,
      [userId, ACTIVE_DEPLOYMENT_STATUSES],
    );
    return new Map(
      rows.filter((r) => r.remaining_seconds !== null).map((r) => [r.job_id, r.remaining_seconds!]),
    );
  }
}
