import { QueryFailedError, type DataSource, type EntityManager } from "typeorm";
import { microsToUsd } from "../costs/money";
import { JobStatus } from "../jobs/training-job.enums";
import { TrainingJob } from "../jobs/training-job.entity";
import { Provider } from "../secrets/provider";
import type { ResolvedDeployInput } from "./deploy-input";
import { checkDeployQuota, lockUserDeploys, type DeployQuota } from "./deploy-quota";
import { DeploymentStatus } from "./deployment.enums";
import { Deployment } from "./deployment.entity";
import type { DeploymentTransitions } from "./deployment-transitions";

/**
 * The rows a deploy makes: its job (PENDING, with the token's hash) and its deployment (CREATING), in one
 * transaction, under the user's quota; a request whose idempotency key was seen before answers that deployment.
 */
export class DeploymentRows {
  constructor(
    private readonly db: DataSource,
    private readonly transitions: DeploymentTransitions,
    private readonly quota: DeployQuota | undefined,
  ) {}

  /** The job and deployment rows, in one transaction; an idempotency key seen before answers the existing row. */
  async create(
    userId: string,
    request: ResolvedDeployInput,
    trainingConfigId: string,
    snapshot: TrainingJob["config"],
    tokenHash: string,
  ): Promise<{ deployment: Deployment; isNew: boolean }> {
    const { db, transitions } = this;
    const replay: { of?: Deployment } = {};
    try {
      const deployment = await db.transaction(async (tx) => {
        replay.of = await this.admit(tx, userId, request);
        if (replay.of) return replay.of;
        const job = await tx.save(
          tx.create(TrainingJob, {
            userId,
            trainingConfigId,
            modelName: snapshot.modelName,
            datasetUrl: snapshot.datasetUrl,
            status: JobStatus.PENDING,
            jobTokenHash: tokenHash,
            config: snapshot,
            progress: null,
          }),
        );
        const saved = await tx.save(
          tx.create(Deployment, {
            userId,
            jobId: job.id,
            platform: Provider.RUNPOD,
            trainingConfigId,
            status: DeploymentStatus.CREATING,
            gpuType: request.gpuTypes[0],
            gpuCount: request.gpuCount,
            cloudType: request.cloudType,
            config: {
              dockerImage: request.dockerImage,
              volumeSizeGb: request.volumeSizeGb,
              containerDiskGb: request.containerDiskGb,
              fallbackGpuTypes: request.gpuTypes.slice(1),
              envNames: Object.keys(request.env),
            },
            budgetLimitMicros: request.budgetLimitMicros,
            actualCostMicros: 0,
            maxPricePerHourMicros: request.maxPricePerHourMicros,
            maxDurationMinutes: request.maxDurationMinutes,
            output: request.output,
            networkVolumeId: request.output.networkVolumeId,
            idempotencyKey: request.idempotencyKey,
            stopOnNaN: request.health.stopOnNaN,
            stopAfterStallMinutes: request.health.stopAfterStallMinutes,
          }),
        );
        await transitions.insertEvent(tx, saved.id, "deployment.created", {
          gpuTypes: request.gpuTypes,
          gpuCount: request.gpuCount,
          cloudType: request.cloudType,
          budgetLimitUsd: microsToUsd(request.budgetLimitMicros),
        });
        await transitions.written(tx, saved, job, null);
        return saved;
      });
      if (replay.of) return { deployment: replay.of, isNew: false };
      return {
        deployment: await db.getRepository(Deployment).findOneByOrFail({ id: deployment.id }),
        isNew: true,
      };
    } catch (error) {
      // Two requests with one idempotency key raced: the unique index let one through; the other answers it.
      if (request.idempotencyKey && isUniqueViolation(error)) {
        const existing = await this.byIdempotencyKey(userId, request.idempotencyKey);
        if (existing) return { deployment: existing, isNew: false };
      }
      throw error;
    }
  }

  /**
   * With a quota: takes the user's deploy lock for the transaction and checks the quota under it (RATE_LIMITED
   * when over). Answers the deployment of the request's idempotency key when another request made it meanwhile:
   * a replay is no new deploy and is never refused.
   */
  private async admit(
    tx: EntityManager,
    userId: string,
    request: ResolvedDeployInput,
  ): Promise<Deployment | undefined> {
    if (!this.quota) return undefined;
    await lockUserDeploys(tx, userId);
    if (request.idempotencyKey) {
      const replayed = await tx
        .getRepository(Deployment)
        .findOneBy({ userId, idempotencyKey: request.idempotencyKey });
      if (replayed) return replayed;
    }
    await checkDeployQuota(tx, userId, this.quota);
    return undefined;
  }

  byIdempotencyKey(userId: string, idempotencyKey: string): Promise<Deployment | null> {
    return this.db.getRepository(Deployment).findOneBy({ userId, idempotencyKey });
  }
}

function isUniqueViolation(error: unknown): boolean {
  const driverError =
    error instanceof QueryFailedError ? (error.driverError as { code?: string }) : undefined;
  return driverError?.code === "23505";
}
