import type { DataSource } from "typeorm";
import { newJobToken } from "../../src/auth/job-token";
import { DeploymentStatus } from "../../src/deployments/deployment.enums";
import { Deployment } from "../../src/deployments/deployment.entity";
import { JobStatus } from "../../src/jobs/training-job.enums";
import { TrainingJob } from "../../src/jobs/training-job.entity";
import { CloudType, GpuType } from "../../src/runpod/gpu-catalogue";
import { Provider } from "../../src/secrets/provider";
import { TrainingConfig } from "../../src/training-configs/training-config.entity";
import { TrainingMethod } from "../../src/training-configs/training-config.enums";
import { resolveHyperparameters } from "../../src/training-configs/training-config.service";
import { snapshotOf } from "../../src/training-configs/training-config.snapshot";
import { User } from "../../src/users/user.entity";

/** Small row factories: each makes exactly the rows a test needs, with overridable fields. */
export async function newUser(db: DataSource, id: string): Promise<User> {
  await db.createQueryBuilder().insert().into(User).values({ id }).orIgnore().execute();
  return db.getRepository(User).findOneByOrFail({ id });
}

export async function newTrainingConfig(
  db: DataSource,
  userId: string,
  overrides: Partial<TrainingConfig> = {},
): Promise<TrainingConfig> {
  await newUser(db, userId);
  const repo = db.getRepository(TrainingConfig);
  return repo.save(
    repo.create({
      userId,
      name: "llama sft",
      modelName: "meta-llama/Llama-3.2-1B",
      datasetUrl: "https://example.com/data.jsonl",
      method: TrainingMethod.LORA,
      hyperparameters: resolveHyperparameters(undefined, TrainingMethod.LORA),
      ...overrides,
    }),
  );
}

export interface DeploymentRows {
  deployment: Deployment;
  job: TrainingJob;
  jobToken: string;
}

/** A job and its deployment, as deployTraining would leave them (no upstream involved). */
export async function newDeployment(
  db: DataSource,
  userId: string,
  overrides: Partial<Deployment> = {},
  config?: TrainingConfig,
): Promise<DeploymentRows> {
  const trainingConfig = config ?? (await newTrainingConfig(db, userId));
  const { token, hash } = newJobToken();
  const job = await db.getRepository(TrainingJob).save(
    db.getRepository(TrainingJob).create({
      userId,
      trainingConfigId: trainingConfig.id,
      modelName: trainingConfig.modelName,
      datasetUrl: trainingConfig.datasetUrl,
      status: JobStatus.RUNNING,
      jobTokenHash: hash,
      config: snapshotOf(trainingConfig),
      progress: null,
    }),
  );
  const deployment = await db.getRepository(Deployment).save(
    db.getRepository(Deployment).create({
      userId,
      jobId: job.id,
      platform: Provider.RUNPOD,
      trainingConfigId: trainingConfig.id,
      podId: null,
      status: DeploymentStatus.RUNNING,
      gpuType: GpuType.RTX_A4000,
      gpuCount: 1,
      cloudType: CloudType.SECURE,
      config: {
        dockerImage: "runpod/pytorch",
        volumeSizeGb: 20,
        containerDiskGb: 20,
        fallbackGpuTypes: [],
        envNames: [],
      },
      costPerHourMicros: 170_000,
      budgetLimitMicros: 5_000_000,
      actualCostMicros: 0,
      ...overrides,
    }),
  );
  return {
    deployment: await db.getRepository(Deployment).findOneByOrFail({ id: deployment.id }),
    job,
    jobToken: token,
  };
}
