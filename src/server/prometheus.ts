import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { DataSource } from "typeorm";

/**
 * What `/metrics` exposes, in Prometheus' text format: the process (CPU, memory, event-loop lag, GC) and what
 * the gateway does. One registry per gateway, so two gateways in one process (tests) do not collide.
 */
export interface GatewayMetrics {
  registry: Registry;
  callbacks: Counter<"route" | "status">;
  pointsIngested: Counter;
  ingestWriteSeconds: Histogram;
  pointsLate: Counter;
  backgroundRuns: Counter<"task" | "outcome">;
  backgroundRunSeconds: Histogram<"task">;
  /** Counts a background run by its outcome and, for a run this replica made, observes how long it took. */
  recordBackgroundRun: (task: string, outcome: string, seconds?: number) => void;
}

export function createGatewayMetrics(sources: {
  db: DataSource;
  openSubscriptions: () => number;
  ingestBacklog: () => number;
}): GatewayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "traingate_" });
  const metrics: GatewayMetrics = {
    registry,
    callbacks: new Counter({
      name: "traingate_pod_callbacks_total",
      help: "Pod callback requests, by route (metrics, status) and HTTP status",
      labelNames: ["route", "status"],
      registers: [registry],
    }),
    pointsIngested: new Counter({
      name: "traingate_metric_points_ingested_total",
      help: "Metric points committed to the database",
      registers: [registry],
    }),
    pointsLate: new Counter({
      name: "traingate_metric_points_late_total",
      help: "Live metric points a subscription did not deliver (they are stored): it had delivered a higher step of their job",
      registers: [registry],
    }),
    ingestWriteSeconds: new Histogram({
      name: "traingate_metric_ingest_write_seconds",
      help: "Duration of one group-commit write of metric points",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    backgroundRuns: new Counter({
      name: "traingate_background_runs_total",
      help: "Runs of the background tasks on this replica, by task and outcome",
      labelNames: ["task", "outcome"],
      registers: [registry],
    }),
    backgroundRunSeconds: new Histogram({
      name: "traingate_background_run_seconds",
      help: "Duration of one run of a background task on the leading replica, by task",
      labelNames: ["task"],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    recordBackgroundRun: (task, outcome, seconds) => {
      metrics.backgroundRuns.inc({ task, outcome });
      if (seconds !== undefined) metrics.backgroundRunSeconds.observe({ task }, seconds);
    },
  };
  new Gauge({
    name: "traingate_subscriptions_open",
    help: "Live GraphQL subscriptions on this replica",
    registers: [registry],
    collect() {
      this.set(sources.openSubscriptions());
    },
  });
  new Gauge({
    name: "traingate_metric_ingest_backlog_points",
    help: "Metric points waiting for a group-commit write",
    registers: [registry],
    collect() {
      this.set(sources.ingestBacklog());
    },
  });
  new Gauge({
    name: "traingate_deployments",
    help: "Deployments by status (all users)",
    labelNames: ["status"],
    registers: [registry],
    async collect() {
      const rows = await sources.db.query<{ status: string; n: number }[]>(
        `SELECT status, count(*)::int AS n FROM cloud_deployments GROUP BY status`,
      );
      this.reset();
      for (const row of rows) this.set({ status: row.status }, row.n);
    },
  });
  return metrics;
}
