import type { DataSource } from "typeorm";
import { DeploymentStatus } from "../src/deployments/deployment.enums";
import { CostResolver } from "../src/deployments/cost-report.resolver";
import { DeploymentStreamResolver } from "../src/deployments/deployment-stream.resolver";
import { DeploymentResolver } from "../src/deployments/deployment.resolver";
import { createDeploymentsModule } from "../src/deployments/deployments.module";
import { TrainingJobDeploymentResolver } from "../src/deployments/training-job-deployment.resolver";
import { GpuType } from "../src/runpod/gpu-catalogue";
import { newDeployment } from "./support/factories";
import { startTestGateway, type TestGateway } from "./support/gateway";

const REPORT = `query($from: DateTime, $to: DateTime) {
  costs(from: $from, to: $to) {
    from to totalUsd activeBurnRateUsdPerHour projectedUsd
    deployments { deployment { id } costUsd budgetLimitUsd budgetUsedPercent }
    byGpuType { gpuType gpuHours costUsd }
    byDay { day costUsd }
  }
}`;
type Report = {
  costs: {
    totalUsd: number;
    activeBurnRateUsdPerHour: number;
    projectedUsd: number;
    deployments: {
      deployment: { id: string };
      costUsd: number;
      budgetLimitUsd: number;
      budgetUsedPercent: number;
    }[];
    byGpuType: { gpuType: string; gpuHours: number; costUsd: number }[];
    byDay: { day: string; costUsd: number }[];
  };
};

let t: TestGateway;
let db: DataSource;
let h100: string;
let a4000: string;
const sum = (values: number[]) => Math.round(values.reduce((a, b) => a + b, 0) * 10_000) / 10_000;

beforeAll(async () => {
  t = await startTestGateway();
  db = t.gateway.db.dataSource;
  // Ten hours on 2 x H100 for $10, on November 10th.
  h100 = (
    await newDeployment(db, "cost-user", {
      status: DeploymentStatus.COMPLETED,
      gpuType: GpuType.H100_SXM,
      gpuCount: 2,
      createdAt: new Date("2026-11-10T00:00:00Z"),
      lastObservedAt: new Date("2026-11-10T10:00:00Z"),
      actualCostMicros: 10_000_000,
      budgetLimitMicros: 20_000_000,
      uptimeSeconds: 36_000,
    })
  ).deployment.id;
  // Four hours across midnight for $4.
  a4000 = (
    await newDeployment(db, "cost-user", {
      status: DeploymentStatus.STOPPED,
      gpuType: GpuType.RTX_A4000,
      createdAt: new Date("2026-11-11T22:00:00Z"),
      lastObservedAt: new Date("2026-11-12T02:00:00Z"),
      actualCostMicros: 4_000_000,
      uptimeSeconds: 14_400,
    })
  ).deployment.id;
  // Someone else's, the same days: never in cost-user's report.
  await newDeployment(db, "cost-other", {
    createdAt: new Date("2026-11-10T00:00:00Z"),
    lastObservedAt: new Date("2026-11-12T00:00:00Z"),
    actualCostMicros: 99_000_000,
  });
});
afterAll(() => t.close());

describe("costs", () => {
  it("adds up: deployments, GPU types and days each sum to the total", async () => {
    const res = await t.gql<Report>("cost-user", REPORT, {
      from: "2026-11-01T00:00:00Z",
      to: "2026-12-01T00:00:00Z",
    });
    expect(res.errors).toBeUndefined();
    const c = res.data!.costs;
    expect(c.totalUsd).toBe(14);
    expect(sum(c.deployments.map((d) => d.costUsd))).toBe(c.totalUsd);
    expect(sum(c.byGpuType.map((g) => g.costUsd))).toBe(c.totalUsd);
    expect(sum(c.byDay.map((d) => d.costUsd))).toBe(c.totalUsd);
    expect(c.deployments.map((d) => d.deployment.id)).toEqual([h100, a4000]);
    expect(c.deployments[0]).toMatchObject({ costUsd: 10, budgetLimitUsd: 20, budgetUsedPercent: 50 });
    expect(c.byGpuType).toEqual([
      { gpuType: "H100_SXM", gpuHours: 20, costUsd: 10 },
      { gpuType: "RTX_A4000", gpuHours: 4, costUsd: 4 },
    ]);
    expect(c.byDay).toEqual([
      { day: "2026-11-10", costUsd: 10 },
      { day: "2026-11-11", costUsd: 2 },
      { day: "2026-11-12", costUsd: 2 },
    ]);
  });

  it("reports half of a run for a range that cuts it in half", async () => {
    const res = await t.gql<Report>("cost-user", REPORT, {
      from: "2026-11-10T05:00:00Z",
      to: "2026-11-11T00:00:00Z",
    });
    const c = res.data!.costs;
    expect(c.totalUsd).toBe(5);
    expect(c.deployments).toEqual([expect.objectContaining({ deployment: { id: h100 }, costUsd: 5 })]);
    expect(c.byGpuType).toEqual([{ gpuType: "H100_SXM", gpuHours: 10, costUsd: 5 }]);
    expect(c.byDay).toEqual([{ day: "2026-11-10", costUsd: 5 }]);
  });

  it("shows the burn rate of running deployments and what they will still spend by their ETA, capped at budget", async () => {
    const running = await newDeployment(db, "cost-live", {
      status: DeploymentStatus.RUNNING,
      costPerHourMicros: 500_000,
      budgetLimitMicros: 1_000_000,
      actualCostMicros: 200_000,
      createdAt: new Date(Date.now() - 3600_000),
      lastObservedAt: new Date(),
    });
    await db.query(`INSERT INTO training_metrics (job_id, step, remaining_seconds) VALUES ($1, 10, 3600)`, [
      running.job.id,
    ]);
    // An explicit range: the default one starts at the month's first midnight, which may fall inside this run's hour.
    const res = await t.gql<Report>("cost-live", REPORT, {
      from: new Date(Date.now() - 2 * 3600_000).toISOString(),
    });
    const c = res.data!.costs;
    // $0.50/h for the GPU, plus 40 GB of disks at $0.10/GB-month (730 h).
    expect(c.activeBurnRateUsdPerHour).toBe(0.5055);
    // One projection, disks included, in the report and on the deployment: $0.20 + an hour at $0.5055/h.
    expect(c.totalUsd).toBe(0.2);
    expect(c.projectedUsd).toBe(0.7055);
    const deployment = await t.gql<{ deployment: { projectedCostUsd: number } }>(
      "cost-live",
      `query($id: ID!) { deployment(id: $id) { projectedCostUsd } }`,
      {
        id: running.deployment.id,
      },
    );
    expect(deployment.data?.deployment.projectedCostUsd).toBe(0.7055);
  });

  it("is the deployments module's report, served by its resolvers", async () => {
    const { runpod, bus, logger, services, config } = t.gateway;
    const module = createDeploymentsModule({
      db,
      runpod,
      offers: services.gpuOffers,
      secrets: services.secrets,
      configs: services.trainingConfigs,
      bus,
      logger,
      streams: services.subscriptions,
      options: {
        metricsApiUrl: config.metricsApiUrl,
        defaultImage: config.trainerImage,
        modelSizes: { modelSize: () => Promise.resolve(null) },
      },
    });
    expect(module.resolvers?.map((r) => r.constructor)).toEqual([
      DeploymentResolver,
      CostResolver,
      DeploymentStreamResolver,
      TrainingJobDeploymentResolver,
    ]);
    const report = await module.costReports.report(
      "cost-user",
      new Date("2026-11-01T00:00:00Z"),
      new Date("2026-12-01T00:00:00Z"),
    );
    expect(report.totalUsd).toBe(14);
    const listed = await module.costReports.deployments(report, 100);
    expect(listed.map((d) => d.deployment.id)).toEqual([h100, a4000]);
  });

  it("shows another user nothing of these", async () => {
    const res = await t.gql<Report>("cost-nobody", REPORT, {
      from: "2026-11-01T00:00:00Z",
      to: "2026-12-01T00:00:00Z",
    });
    expect(res.data?.costs).toMatchObject({ totalUsd: 0, deployments: [], byGpuType: [], byDay: [] });
  });

  it("refuses a range that ends before it starts", async () => {
    const res = await t.gql<Report>("cost-user", REPORT, {
      from: "2026-11-10T00:00:00Z",
      to: "2026-11-01T00:00:00Z",
    });
    expect(res.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "from" });
  });

  it("names the argument the caller gave when a range is longer than 400 days", async () => {
    const fromOnly = await t.gql<Report>("cost-user", REPORT, { from: "2020-01-01T00:00:00Z" });
    expect(fromOnly.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "from" });
    const both = await t.gql<Report>("cost-user", REPORT, {
      from: "2020-01-01T00:00:00Z",
      to: "2026-01-01T00:00:00Z",
    });
    expect(both.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "to" });
  });
});
