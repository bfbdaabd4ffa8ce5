import type { DataSource } from "typeorm";
import { apportion, unitsToUsd, USD_UNIT_MICROS } from "../../src/costs/apportion";

/**
 * The cost report's figures as the gateway computed them before the rollup: every deployment of the user
 * apportioned in one SQL statement over `cloud_deployments`, then by largest remainder. Kept as the oracle the
 * rollup's report is compared with. That SQL gave its rows in no set order; here they are taken by id (the order
 * in which equal remainders get their unit, as the report does).
 *
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

export interface OracleReport {
  totalUsd: number;
  /** Every deployment in the range, by the old order: highest cost first, then the newer. */
  deployments: { id: string; costUsd: number }[];
  byGpuType: { gpuType: string; gpuHours: number; costUsd: number }[];
  byDay: { day: string; costUsd: number }[];
  /** Each deployment in the range: its exact micro-dollars there, its GPU type, its creation. */
  exact: { id: string; micros: number; gpuType: string; createdAt: Date }[];
}

export async function oracleReport(
  db: DataSource,
  userId: string,
  start: Date,
  end: Date,
): Promise<OracleReport> {
  const rows = await db.query<
    { kind: "deployment" | "day"; key: string; micros: string; gpu_seconds: string | null }[]
  >(COSTS_SQL, [userId, start, end]);
  const perDeployment = rows.filter((r) => r.kind === "deployment").sort((a, b) => (a.key < b.key ? -1 : 1));
  const perDay = rows.filter((r) => r.kind === "day").sort((a, b) => a.key.localeCompare(b.key));
  const exact = perDeployment.map((r) => Number(r.micros));
  const totalUnits = Math.round(exact.reduce((sum, v) => sum + v, 0) / USD_UNIT_MICROS);
  const meta = new Map(
    (
      await db.query<{ id: string; gpu_type: string; created_at: Date }[]>(
        `SELECT id, gpu_type, created_at FROM cloud_deployments WHERE id = ANY($1)`,
        [perDeployment.map((r) => r.key)],
      )
    ).map((d) => [d.id, d]),
  );
  const deploymentUnits = apportion(exact, totalUnits);
  const deployments = perDeployment
    .map((row, i) => ({ id: row.key, costUsd: unitsToUsd(deploymentUnits[i]) }))
    .sort(
      (a, b) =>
        b.costUsd - a.costUsd || meta.get(b.id)!.created_at.getTime() - meta.get(a.id)!.created_at.getTime(),
    );
  const gpu = new Map<string, { units: number; gpuSeconds: number }>();
  perDeployment.forEach((row, i) => {
    const type = meta.get(row.key)!.gpu_type;
    const entry = gpu.get(type) ?? { units: 0, gpuSeconds: 0 };
    entry.units += deploymentUnits[i];
    entry.gpuSeconds += Number(row.gpu_seconds ?? 0);
    gpu.set(type, entry);
  });
  const dayUnits = apportion(
    perDay.map((r) => Number(r.micros)),
    totalUnits,
  );
  return {
    totalUsd: unitsToUsd(totalUnits),
    deployments,
    byGpuType: [...gpu.entries()]
      .map(([gpuType, v]) => ({
        gpuType,
        gpuHours: Math.round((v.gpuSeconds / 3600) * 10_000) / 10_000,
        costUsd: unitsToUsd(v.units),
      }))
      .sort((a, b) => b.costUsd - a.costUsd || a.gpuType.localeCompare(b.gpuType)),
    byDay: perDay.map((r, i) => ({ day: r.key, costUsd: unitsToUsd(dayUnits[i]) })),
    exact: perDeployment.map((r, i) => ({
      id: r.key,
      micros: exact[i],
      gpuType: meta.get(r.key)!.gpu_type,
      createdAt: meta.get(r.key)!.created_at,
    })),
  };
}
