import { DataSource, type Logger as OrmLogger } from "typeorm";
import { dataSourceOptions } from "../db/data-source";
import { DeploymentStatus } from "../deployments/deployment.enums";
import { Deployment } from "../deployments/deployment.entity";
import {
  deploymentByJobId,
  deploymentLoaders,
  remainingSecondsByJobId,
} from "../deployments/deployment.loaders";
import { jobById, trainingJobLoaders } from "../jobs/training-job.loaders";
import { latestMetricByJobId, metricLoaders } from "../metrics/metric.loaders";
import { MetricQueryService } from "../metrics/metric-query.service";
import { TrainingMetric } from "../metrics/training-metric.entity";
import { dropTestDatabases, freshDatabase } from "../../test/support/database";
import { newDeployment } from "../../test/support/factories";
import { ENTITIES } from "./entities";
import { createLoaders, loaderSource } from "./loaders";

/** Every SQL statement the data source sends, for counting what a page of lookups costs. */
class StatementLog implements OrmLogger {
  statements: string[] = [];
  logQuery(query: string): void {
    this.statements.push(query);
  }
  logQueryError(): void {}
  logQuerySlow(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}
  take(): string[] {
    const taken = this.statements;
    this.statements = [];
    return taken;
  }
}

const USER = "loaders-user";
const log = new StatementLog();
let ds: DataSource;
let factories: ReturnType<typeof deploymentLoaders>;
const jobIds: string[] = [];

beforeAll(async () => {
  const target = await freshDatabase();
  ds = new DataSource({
    ...dataSourceOptions({ ...target, entities: ENTITIES }),
    logging: ["query"],
    logger: log,
  });
  await ds.initialize();
  for (let i = 0; i < 3; i++) {
    const { job } = await newDeployment(ds, USER);
    jobIds.push(job.id);
    // Two points each; the latest one says how long is left.
    await ds.getRepository(TrainingMetric).save([
      { jobId: job.id, step: 1, loss: 2, remainingSeconds: 600 + i },
      { jobId: job.id, step: 2, loss: 1, remainingSeconds: 300 + i },
    ]);
  }
  factories = [
    ...trainingJobLoaders(ds),
    ...deploymentLoaders(ds),
    ...metricLoaders(new MetricQueryService(ds)),
  ];
});

afterAll(async () => {
  await ds.destroy();
  await dropTestDatabases();
});

describe("the request's loaders", () => {
  it("answer a page's latest points and remaining seconds with the statements one job's point costs", async () => {
    const single = createLoaders(factories, { cache: true });
    log.take();
    await single.get(latestMetricByJobId).load(jobIds[0]);
    const forOne = log.take().length;
    expect(forOne).toBeGreaterThan(0);

    const page = createLoaders(factories, { cache: true });
    const [latest, remaining] = await Promise.all([
      page.get(latestMetricByJobId).loadMany(jobIds),
      Promise.all(jobIds.map((id) => page.get(remainingSecondsByJobId).load(id))),
    ]);
    expect(log.take()).toHaveLength(forOne);
    expect(latest.map((point) => (point as TrainingMetric).step)).toEqual([2, 2, 2]);
    expect(remaining).toEqual([300, 301, 302]);
  });

  it("keep a row for the rest of a request, but show a subscription each row as it is now", async () => {
    const request = createLoaders(factories, { cache: true });
    const subscription = createLoaders(factories, { cache: false });
    expect((await request.get(deploymentByJobId).load(jobIds[0]))?.status).toBe(DeploymentStatus.RUNNING);
    expect((await subscription.get(deploymentByJobId).load(jobIds[0]))?.status).toBe(
      DeploymentStatus.RUNNING,
    );

    await ds.getRepository(Deployment).update({ jobId: jobIds[0] }, { status: DeploymentStatus.STOPPED });

    expect((await request.get(deploymentByJobId).load(jobIds[0]))?.status).toBe(DeploymentStatus.RUNNING);
    expect((await subscription.get(deploymentByJobId).load(jobIds[0]))?.status).toBe(
      DeploymentStatus.STOPPED,
    );
    // A new request sees the change.
    const next = createLoaders(factories, { cache: true });
    expect((await next.get(deploymentByJobId).load(jobIds[0]))?.status).toBe(DeploymentStatus.STOPPED);
  });

  it("name the key no module provides, and refuse two modules providing the same key", () => {
    const onlyJobs = createLoaders(trainingJobLoaders(ds), { cache: true });
    expect(onlyJobs.get(jobById)).toBe(onlyJobs.get(jobById));
    expect(() => onlyJobs.get(deploymentByJobId)).toThrow("no module provides the loader deploymentByJobId");
    expect(() => loaderSource([...trainingJobLoaders(ds), ...trainingJobLoaders(ds)])).toThrow(
      "two modules provide the loader jobById",
    );
  });
});
