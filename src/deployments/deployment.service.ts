import type { Logger } from "pino";
import { QueryFailedError, type DataSource, type EntityManager } from "typeorm";
import { newJobToken } from "../auth/job-token";
import { microsToUsd, usdToMicros, type Micros } from "../costs/money";
import {
  accrue,
  accruedMicros,
  runningMicrosPerHour,
  secondsAffordable,
  type ObservedState,
} from "../costs/pricing";
import { AppError, ErrorCode } from "../errors/app-error";
import { JobStatus } from "../jobs/training-job.enums";
import { TrainingJob } from "../jobs/training-job.entity";
import type { EventBus } from "../pubsub/event-bus";
import { topics } from "../pubsub/topics";
import { gpuCatalogueEntry, type GpuType } from "../runpod/gpu-catalogue";
import type { GpuOfferService } from "../runpod/gpu-offer.service";
import { PodStatus, type NetworkVolume, type PodInfo, type RunpodClient } from "../runpod/runpod-client";
import { Provider } from "../secrets/provider";
import type { ProviderSecretService } from "../secrets/provider-secret.service";
import type { TrainingConfigService } from "../training-configs/training-config.service";
import { snapshotOf } from "../training-configs/training-config.snapshot";
import { renderPod } from "../trainer/pod-bootstrap";
import type { ModelSize } from "../hub/model-size";
import type { TrainingConfig } from "../training-configs/training-config.entity";
import { checkEnvLimit, checkGpuCount, resolveDeployInput, type ResolvedDeployInput } from "./deploy-input";
import { formatParameters, workspaceGbNeeded } from "./disk-sizing";
import { checkDeployQuota, lockUserDeploys, type DeployQuota } from "./deploy-quota";
import { DeploymentEvent } from "./deployment-event.entity";
import { ACTIVE_DEPLOYMENT_STATUSES, DeploymentStatus, StopReason } from "./deployment.enums";
import { Deployment } from "./deployment.entity";
import type { DeploymentQueryService } from "./deployment-query.service";
import { isFinished, nextState, type DeploymentSignal } from "./deployment.state";
import type { DeployTrainingInput } from "./deployment.types";

/** A deployment cannot be made for less than this much running time at the offer's price. */
export const MIN_AFFORDABLE_SECONDS = 10 * 60;
/** The trainer's own deadline leaves it this share of the budget's time, to checkpoint before RunPod's cut-off. */
const TRAINER_DEADLINE_SHARE = 0.95;
/** RunPod's own cut-off after a max duration: the watchdog should have acted long before. */
const MAX_DURATION_GRACE_SECONDS = 10 * 60;

export interface DeploymentServiceOptions {
  /** `$PUBLIC_URL/api/training/jobs`, handed to pods. */
  metricsApiUrl: string;
  /**
   * How long after the budget runs out RunPod's own terminateAfter fires: one budget-watchdog interval, so that
   * with the gateway up the watchdog stops the pod (checkpoint first, alerts raised), and with it down the
   * overshoot is no more than the watchdog's own bound.
   */
  terminateAfterGraceSeconds?: number;
  /** The image pods run when the caller names none. */
  defaultImage: string;
  /**
   * Set when no pod could ever call `metricsApiUrl` back (a loopback or private PUBLIC_URL with the real
   * RunPod): why, for the refusal. Deploys are refused while it is set.
   */
  callbackUnreachable?: string;
  /** Where model sizes come from (the Hub's metadata, else the model id), for the disk check. */
  modelSizes: { modelSize(modelId: string, hfToken?: string): Promise<ModelSize | null> };
  /** The per-user caps on active deployments and deploys per hour; none when absent. */
  quota?: DeployQuota;
  now?: () => Date;
}

/** Told once a deployment has finished (committed), with why it stopped; see `onFinished`. */
export type FinishedListener = (deployment: Deployment) => Promise<void>;

/** Where a pod's page is in RunPod's console. */
export const consoleUrl = (podId: string): string =>
  `https://console.runpod.io/pods?id=${encodeURIComponent(podId)}`;
/** Pods are named after their deployment, so a pod whose creation answer was lost can be found again. */
export const podName = (deploymentId: string): string => `traingate-${deploymentId}`;

/**
 * The deployment lifecycle: deploy, stop, refresh, and every state change the pod, the trainer or the budget
 * brings. Each change is one transaction over the deployment and its job (row-locked), recorded in
 * deployment_events, and published on the bus after it commits.
 */
export class DeploymentService {
  private readonly now: () => Date;
  private readonly finishedListeners: FinishedListener[] = [];
  private readonly changeListeners: ((deployment: Pick<Deployment, "id" | "jobId">) => void)[] = [];

  constructor(
    private readonly db: DataSource,
    private readonly runpod: RunpodClient,
    private readonly offers: GpuOfferService,
    private readonly secrets: ProviderSecretService,
    private readonly configs: TrainingConfigService,
    private readonly queries: DeploymentQueryService,
    private readonly bus: EventBus,
    private readonly logger: Logger,
    private readonly options: DeploymentServiceOptions,
  ) {
    this.now = options.now ?? (() => new Date());
  }

  /** DESIGN.md's deploy flow. Answers the deployment, or the error that ended it (the FAILED row stays). */
  async deploy(userId: string, input: DeployTrainingInput): Promise<Deployment> {
    if (this.options.callbackUnreachable) {
      throw new AppError(
        ErrorCode.INVALID_STATE,
        `no pod could report back to this gateway: PUBLIC_URL ${this.options.callbackUnreachable}; ` +
          "set PUBLIC_URL to an address the pod can reach",
      );
    }
    const request = resolveDeployInput(input, this.options.defaultImage);
    if (request.idempotencyKey) {
      const existing = await this.byIdempotencyKey(userId, request.idempotencyKey);
      if (existing) return existing;
    }
    // Before anything is stored or asked upstream; checked again, under the user's lock, where the rows are made.
    if (this.options.quota) {
      try {
        await checkDeployQuota(this.db.manager, userId, this.options.quota);
      } catch (error) {
        // A twin request with the same key may have made its deployment since the look above: a replay is never refused.
        const replayed = request.idempotencyKey
          ? await this.byIdempotencyKey(userId, request.idempotencyKey)
          : null;
        if (replayed) return replayed;
        throw error;
      }
    }
    const config = await this.configs.get(userId, request.trainingConfigId);
    checkGpuCount(request.gpuCount, config);
    const apiKey = await this.requireKey(
      userId,
      Provider.RUNPOD,
      "a RunPod API key (setProviderSecret with provider RUNPOD)",
    );
    // Any saved Hugging Face token goes to the pod: gated models and datasets need it, not only Hub pushes.
    const hfToken = request.output.hubRepoId
      ? await this.requireKey(
          userId,
          Provider.HUGGINGFACE,
          "a Hugging Face token (setProviderSecret with provider HUGGINGFACE) to push to the Hub",
        )
      : ((await this.secrets.reveal(userId, Provider.HUGGINGFACE)) ?? undefined);
    checkEnvLimit(request.env, hfToken !== undefined);
    const networkVolume = request.output.networkVolumeId
      ? await this.networkVolume(apiKey, request.output.networkVolumeId)
      : undefined;
    await this.checkDisk(request, config, networkVolume, hfToken);
    const dataCenterId = networkVolume?.dataCenterId ?? undefined;

    // Which offers the request can take is known before anything is stored: a deploy refused here (no price,
    // over maxPricePerHourUsd, over budget) leaves no row behind and calls RunPod for nothing but prices.
    const offers = await this.offers
      .list({ cloudType: request.cloudType, gpuCount: request.gpuCount })
      .catch((error: unknown) => {
        this.logger.warn({ err: describe(error), userId }, "could not read GPU prices");
        return [];
      });
    const refusals: string[] = [];
    const candidates: { gpuType: GpuType; priceMicros: Micros; affordable: number }[] = [];
    let cheapestUnaffordable: { gpuType: GpuType; perHour: Micros } | undefined;
    for (const gpuType of request.gpuTypes) {
      const offer = offers.find((o) => o.gpuType === gpuType);
      const priceMicros = offer?.pricePerHourUsd == null ? null : usdToMicros(offer.pricePerHourUsd);
      if (priceMicros === null || priceMicros <= 0) {
        refusals.push(`${gpuType}: RunPod quotes no price`);
        continue;
      }
      if (request.maxPricePerHourMicros !== null && priceMicros > request.maxPricePerHourMicros) {
        refusals.push(`${gpuType}: $${microsToUsd(priceMicros)}/h is above maxPricePerHourUsd`);
        continue;
      }
      const perHour = runningMicrosPerHour(priceMicros, {
        volumeGb: request.volumeSizeGb,
        containerGb: request.containerDiskGb,
      });
      const affordable = secondsAffordable(request.budgetLimitMicros, perHour);
      if (affordable < MIN_AFFORDABLE_SECONDS) {
        if (!cheapestUnaffordable || perHour < cheapestUnaffordable.perHour)
          cheapestUnaffordable = { gpuType, perHour };
        refusals.push(`${gpuType}: the budget pays for ${Math.floor(affordable / 60)} min`);
        continue;
      }
      candidates.push({ gpuType, priceMicros, affordable });
    }
    if (candidates.length === 0) {
      if (cheapestUnaffordable) {
        throw new AppError(
          ErrorCode.BUDGET_EXCEEDED,
          `budgetLimitUsd $${microsToUsd(request.budgetLimitMicros)} pays for less than ${MIN_AFFORDABLE_SECONDS / 60} minutes: ` +
            `${cheapestUnaffordable.gpuType} x${request.gpuCount} costs $${microsToUsd(cheapestUnaffordable.perHour)}/h ` +
            `(${MIN_AFFORDABLE_SECONDS / 60} minutes need $${microsToUsd(Math.ceil((cheapestUnaffordable.perHour * MIN_AFFORDABLE_SECONDS) / 3600))})`,
          { field: "input.budgetLimitUsd" },
        );
      }
      throw new AppError(ErrorCode.GPU_UNAVAILABLE, `no GPU available: ${refusals.join("; ")}`);
    }

    const { token, hash } = newJobToken();
    const created = await this.createRows(userId, request, config.id, snapshotOf(config), hash);
    if (!created.isNew) return created.deployment;
    const deployment = created.deployment;
    await this.publish(deployment);
    if (refusals.length > 0) await this.recordEvent(deployment.id, "offers.refused", { refusals });

    let capacityMessage: string | undefined;
    for (const { gpuType, priceMicros, affordable } of candidates) {
      const createdAt = this.now();
      const deadlines = this.deadlines(createdAt, affordable, request.maxDurationMinutes);
      const rendered = await renderPod({
        jobId: deployment.jobId,
        jobToken: token,
        deploymentId: deployment.id,
        metricsApiUrl: this.options.metricsApiUrl,
        budgetDeadline: deadlines.budgetDeadline,
        config: {
          modelName: config.modelName,
          datasetUrl: config.datasetUrl,
          method: config.method,
          hyperparameters: config.hyperparameters,
          output: request.output,
        },
        gpuCount: request.gpuCount,
        hfToken,
        userEnv: request.env,
      });
      let pod: PodInfo;
      try {
        pod = await this.runpod.createPod(apiKey, {
          name: podName(deployment.id),
          gpuType,
          gpuCount: request.gpuCount,
          cloudType: request.cloudType,
          imageName: request.dockerImage,
          dockerArgs: rendered.dockerArgs,
          env: rendered.env,
          volumeInGb: request.volumeSizeGb,
          containerDiskInGb: request.containerDiskGb,
          volumeMountPath: "/workspace",
          networkVolumeId: request.output.networkVolumeId ?? undefined,
          dataCenterId,
          terminateAfter: deadlines.terminateAfter,
        });
      } catch (error) {
        if (error instanceof AppError && error.code === ErrorCode.GPU_UNAVAILABLE) {
          capacityMessage = error.message;
          refusals.push(`${gpuType}: no capacity`);
          await this.recordEvent(deployment.id, "pod.no_capacity", { gpuType, message: error.message });
          continue;
        }
        const found =
          error instanceof AppError && error.details.outcomeUnknown === true
            ? await this.findPodByName(apiKey, podName(deployment.id))
            : undefined;
        if (!found) {
          await this.fail(
            deployment.id,
            error instanceof AppError ? error.message : "the pod could not be created",
          );
          throw withDeployment(error, deployment.id);
        }
        pod = found;
      }
      return this.podCreated(deployment.id, pod, apiKey, {
        gpuType,
        priceMicros,
        createdAt,
        ...deadlines,
      });
    }

    // Every candidate was asked and none had capacity: RunPod was called, so the deployment stays, FAILED.
    const message = `no GPU available: ${refusals.join("; ")}. RunPod said: ${capacityMessage ?? "no capacity"}`;
    await this.fail(deployment.id, message);
    throw new AppError(ErrorCode.GPU_UNAVAILABLE, message, { deploymentId: deployment.id });
  }

  /**
   * Stops a deployment: the pod is terminated upstream first, then the deployment is STOPPED (USER) and its job
   * CANCELLED. Idempotent. A finished deployment whose pod was kept (onComplete STOP) gets its pod terminated.
   */
  async stop(userId: string, id: string): Promise<Deployment> {
    const deployment = await this.queries.get(userId, id);
    const active = ACTIVE_DEPLOYMENT_STATUSES.includes(deployment.status);
    const podAlive = deployment.podId !== null && deployment.podTerminatedAt === null;
    if (!active && !podAlive) return deployment;
    if (active) await this.requestStop(deployment.id, StopReason.USER);
    if (podAlive) {
      const apiKey = await this.requireKey(
        userId,
        Provider.RUNPOD,
        "the RunPod API key the pod was created with, to terminate it",
      );
      await this.runpod.terminatePod(apiKey, deployment.podId!);
      await this.podTerminated(deployment.id, "user");
    }
    if (active) await this.signal(deployment.id, { type: "STOP", reason: StopReason.USER });
    return this.queries.get(userId, id);
  }

  /** Pulls the pod's status, uptime and price from upstream now. */
  async refresh(userId: string, id: string): Promise<Deployment> {
    const deployment = await this.queries.get(userId, id);
    if (deployment.podId && deployment.podTerminatedAt === null) {
      const apiKey = await this.requireKey(userId, Provider.RUNPOD, "a RunPod API key");
      const pod = await this.runpod.getPod(apiKey, deployment.podId);
      await this.observe(deployment.id, pod);
    }
    return this.queries.get(userId, id);
  }

  /**
   * Applies one look at the pod (null: RunPod no longer has it): cost accrues, the status follows. Used by
   * refresh and by the background sync.
   */
  async observe(deploymentId: string, pod: PodInfo | null): Promise<void> {
    const at = this.now();
    const changed = await this.db.transaction(async (tx) => {
      const locked = await this.lock(tx, deploymentId);
      if (!locked || locked.deployment.podTerminatedAt !== null) return undefined;
      const { deployment, job } = locked;
      const state: ObservedState =
        pod === null || pod.status === PodStatus.TERMINATED
          ? "GONE"
          : pod.status === PodStatus.STOPPED
            ? "STOPPED"
            : pod.status === PodStatus.RUNNING
              ? "RUNNING"
              : "STARTING";
      const priceMicros = pod?.costPerHr ? usdToMicros(pod.costPerHr) : (deployment.costPerHourMicros ?? 0);
      const accrual = accrue(
        {
          billedSeconds: deployment.uptimeSeconds,
          podUptimeSeconds: deployment.podUptimeSeconds,
          gpuPriceSeconds: deployment.gpuPriceSeconds,
          runningGbSeconds: deployment.runningGbSeconds,
          stoppedGbSeconds: deployment.stoppedGbSeconds,
          observedAt: deployment.lastObservedAt,
        },
        {
          at,
          state,
          podUptimeSeconds: pod?.uptimeSeconds ?? 0,
          runtimeUp: pod?.runtimeUp ?? false,
          costPerHourMicros: priceMicros,
        },
        { volumeGb: deployment.config.volumeSizeGb, containerGb: deployment.config.containerDiskGb },
      );
      const update: Partial<Deployment> = {
        uptimeSeconds: accrual.billedSeconds,
        podUptimeSeconds: accrual.podUptimeSeconds,
        gpuPriceSeconds: accrual.gpuPriceSeconds,
        runningGbSeconds: accrual.runningGbSeconds,
        stoppedGbSeconds: accrual.stoppedGbSeconds,
        lastObservedAt: at,
        actualCostMicros: accruedMicros(accrual),
      };
      if (pod?.costPerHr) update.costPerHourMicros = usdToMicros(pod.costPerHr);
      if (state === "GONE") update.podTerminatedAt = at;
      const transition = await this.applyTransition(
        tx,
        deployment,
        job,
        { type: "POD_OBSERVED", state },
        at,
        update,
      );
      await tx.update(Deployment, { id: deployment.id }, update);
      if (state === "GONE")
        await this.insertEvent(tx, deployment.id, "pod.gone", { podId: deployment.podId });
      return transition || update.actualCostMicros !== deployment.actualCostMicros || state === "GONE"
        ? { deployment: Object.assign(deployment, update), finished: finishes(update) }
        : undefined;
    });
    if (changed) await this.announce(changed.deployment, changed.finished);
  }

  /** Applies a signal (a trainer report, a stop) to a deployment; true when it changed something. */
  async signal(
    deploymentId: string,
    signal: DeploymentSignal,
    extra: Partial<Deployment> = {},
    jobExtra: Partial<TrainingJob> = {},
  ): Promise<boolean> {
    const at = this.now();
    const changed = await this.db.transaction(async (tx) => {
      const locked = await this.lock(tx, deploymentId);
      if (!locked) return undefined;
      const update: Partial<Deployment> = { ...extra };
      const transition = await this.applyTransition(
        tx,
        locked.deployment,
        locked.job,
        signal,
        at,
        update,
        jobExtra,
      );
      if (Object.keys(update).length > 0) await tx.update(Deployment, { id: deploymentId }, update);
      return transition || Object.keys(extra).length > 0
        ? { deployment: Object.assign(locked.deployment, update), finished: finishes(update) }
        : undefined;
    });
    if (changed) await this.announce(changed.deployment, changed.finished);
    return changed !== undefined;
  }

  /**
   * Registers a listener told, after the commit, each time a deployment reaches a finished status on this
   * replica, whichever path took it there (the watchdog, the trainer's report, the status sync, the user).
   */
  onFinished(listener: FinishedListener): void {
    this.finishedListeners.push(listener);
  }

  /** `listener` is told, synchronously, of every committed change before it is published. */
  onChanged(listener: (deployment: Pick<Deployment, "id" | "jobId">) => void): void {
    this.changeListeners.push(listener);
  }

  private async announce(deployment: Deployment, finished: boolean): Promise<void> {
    await this.publish(deployment);
    if (!finished) return;
    for (const listener of this.finishedListeners) {
      try {
        await listener(deployment);
      } catch (error) {
        this.logger.warn(
          { err: describe(error), deploymentId: deployment.id },
          "a finished-deployment listener failed",
        );
      }
    }
  }

  /** Sets the stop flag the metrics route answers, once; the first reason wins. */
  async requestStop(deploymentId: string, reason: StopReason): Promise<boolean> {
    const result = await this.db
      .createQueryBuilder()
      .update(Deployment)
      .set({ stopRequestedAt: this.now(), stopRequestedReason: reason })
      .where("id = :id AND stop_requested_at IS NULL", { id: deploymentId })
      .execute();
    if (!result.affected) return false;
    await this.recordEvent(deploymentId, "stop.requested", { reason });
    const deployment = await this.db.getRepository(Deployment).findOneBy({ id: deploymentId });
    if (deployment) await this.publish(deployment);
    return true;
  }

  /** Records that the pod is gone, after we terminated it. */
  async podTerminated(deploymentId: string, by: string): Promise<void> {
    await this.db
      .createQueryBuilder()
      .update(Deployment)
      .set({ podTerminatedAt: this.now() })
      .where("id = :id AND pod_terminated_at IS NULL", { id: deploymentId })
      .execute();
    await this.recordEvent(deploymentId, "pod.terminated", { by });
  }

  async recordEvent(deploymentId: string, kind: string, detail: Record<string, unknown>): Promise<void> {
    await this.insertEvent(this.db.manager, deploymentId, kind, detail);
  }

  /**
   * Announces a changed deployment (after the change committed): to this replica's change listeners first (the
   * callback routes' cache, so the pod's next post sees the change), then on the bus to subscribers and to the
   * other replicas.
   */
  async publish(deployment: Pick<Deployment, "id" | "userId" | "jobId">): Promise<void> {
    for (const listener of this.changeListeners) listener(deployment);
    const event = { deploymentId: deployment.id, userId: deployment.userId };
    try {
      await Promise.all([
        this.bus.publish(topics.deploymentUpdated(deployment.id), event),
        this.bus.publish(topics.userDeploymentUpdated(deployment.userId), event),
        this.bus.publish(topics.jobAccessChanged, { jobId: deployment.jobId }),
      ]);
    } catch (error) {
      // The change is committed; a subscriber that missed it sees it on its next event or query.
      this.logger.warn(
        { err: describe(error), deploymentId: deployment.id },
        "could not publish a deployment update",
      );
    }
  }

  private async podCreated(
    deploymentId: string,
    pod: PodInfo,
    apiKey: string,
    offer: {
      gpuType: GpuType;
      priceMicros: Micros;
      createdAt: Date;
      terminateAfter: Date;
      budgetDeadline: Date;
    },
  ): Promise<Deployment> {
    const stillWanted = await this.db.transaction(async (tx) => {
      const locked = await this.lock(tx, deploymentId);
      if (!locked) return false;
      const update: Partial<Deployment> = {
        podId: pod.id,
        gpuType: offer.gpuType,
        url: consoleUrl(pod.id),
        costPerHourMicros: pod.costPerHr ? usdToMicros(pod.costPerHr) : offer.priceMicros,
        terminateAfter: offer.terminateAfter,
        budgetDeadline: offer.budgetDeadline,
        lastObservedAt: offer.createdAt,
      };
      await this.applyTransition(
        tx,
        locked.deployment,
        locked.job,
        { type: "POD_CREATED" },
        this.now(),
        update,
      );
      await tx.update(Deployment, { id: deploymentId }, update);
      await this.insertEvent(tx, deploymentId, "pod.created", {
        podId: pod.id,
        gpuType: offer.gpuType,
        runpodGpuTypeId: gpuCatalogueEntry(offer.gpuType).runpodGpuTypeId,
        pricePerHourUsd: microsToUsd(update.costPerHourMicros ?? 0),
        terminateAfter: offer.terminateAfter.toISOString(),
        budgetDeadline: offer.budgetDeadline.toISOString(),
      });
      return !isFinished(locked.deployment.status);
    });
    if (!stillWanted) {
      // Stopped while the pod was being created: it must not run on.
      await this.runpod.terminatePod(apiKey, pod.id);
      await this.podTerminated(deploymentId, "stopped-during-create");
    }
    const deployment = await this.db.getRepository(Deployment).findOneByOrFail({ id: deploymentId });
    await this.publish(deployment);
    return deployment;
  }

  private deadlines(createdAt: Date, affordableSeconds: number, maxDurationMinutes: number | null) {
    let terminateAfterSeconds = affordableSeconds + (this.options.terminateAfterGraceSeconds ?? 0);
    let trainerSeconds = Math.floor(affordableSeconds * TRAINER_DEADLINE_SHARE);
    if (maxDurationMinutes !== null) {
      terminateAfterSeconds = Math.min(
        terminateAfterSeconds,
        maxDurationMinutes * 60 + MAX_DURATION_GRACE_SECONDS,
      );
      trainerSeconds = Math.min(trainerSeconds, maxDurationMinutes * 60);
    }
    return {
      terminateAfter: new Date(createdAt.getTime() + terminateAfterSeconds * 1000),
      budgetDeadline: new Date(createdAt.getTime() + trainerSeconds * 1000),
    };
  }

  /** The job and deployment rows, in one transaction; an idempotency key seen before answers the existing row. */
  private async createRows(
    userId: string,
    request: ResolvedDeployInput,
    trainingConfigId: string,
    snapshot: TrainingJob["config"],
    tokenHash: string,
  ): Promise<{ deployment: Deployment; isNew: boolean }> {
    const replay: { of?: Deployment } = {};
    try {
      const deployment = await this.db.transaction(async (tx) => {
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
          }),
        );
        await this.insertEvent(tx, saved.id, "deployment.created", {
          gpuTypes: request.gpuTypes,
          gpuCount: request.gpuCount,
          cloudType: request.cloudType,
          budgetLimitUsd: microsToUsd(request.budgetLimitMicros),
        });
        return saved;
      });
      if (replay.of) return { deployment: replay.of, isNew: false };
      return {
        deployment: await this.db.getRepository(Deployment).findOneByOrFail({ id: deployment.id }),
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
    if (!this.options.quota) return undefined;
    await lockUserDeploys(tx, userId);
    if (request.idempotencyKey) {
      const replayed = await tx
        .getRepository(Deployment)
        .findOneBy({ userId, idempotencyKey: request.idempotencyKey });
      if (replayed) return replayed;
    }
    await checkDeployQuota(tx, userId, this.options.quota);
    return undefined;
  }

  private async applyTransition(
    tx: EntityManager,
    deployment: Deployment,
    job: TrainingJob,
    signal: DeploymentSignal,
    at: Date,
    update: Partial<Deployment>,
    jobExtra: Partial<TrainingJob> = {},
  ): Promise<boolean> {
    const next = nextState(
      {
        status: deployment.status,
        jobStatus: job.status,
        stopRequestedReason: deployment.stopRequestedReason,
      },
      signal,
    );
    const jobUpdate: Partial<TrainingJob> = { ...jobExtra };
    if (next) {
      if (next.status !== deployment.status) {
        update.status = next.status;
        if (next.status === DeploymentStatus.RUNNING && !deployment.startedAt) update.startedAt = at;
        if (isFinished(next.status)) {
          update.completedAt = at;
          update.stopReason = next.stopReason;
        }
        if (next.errorMessage && !deployment.errorMessage) update.errorMessage = next.errorMessage;
      }
      if (next.jobStatus !== job.status) {
        jobUpdate.status = next.jobStatus;
        if (next.jobStatus === JobStatus.RUNNING && !job.startedAt) jobUpdate.startedAt = at;
        if ([JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED].includes(next.jobStatus))
          jobUpdate.completedAt = at;
        if (next.errorMessage && !job.errorMessage) jobUpdate.errorMessage = next.errorMessage;
      }
      if (next.status !== deployment.status) {
        await this.insertEvent(tx, deployment.id, "status.changed", {
          from: deployment.status,
          to: next.status,
          because: signal.type,
          ...(next.stopReason ? { stopReason: next.stopReason } : {}),
        });
      }
    }
    if (Object.keys(jobUpdate).length > 0) await tx.update(TrainingJob, { id: job.id }, jobUpdate);
    return next !== null && (next.status !== deployment.status || next.jobStatus !== job.status);
  }

  private async lock(
    tx: EntityManager,
    deploymentId: string,
  ): Promise<{ deployment: Deployment; job: TrainingJob } | undefined> {
    const deployment = await tx.findOne(Deployment, {
      where: { id: deploymentId },
      lock: { mode: "pessimistic_write" },
    });
    if (!deployment) return undefined;
    const job = await tx.findOne(TrainingJob, {
      where: { id: deployment.jobId },
      lock: { mode: "pessimistic_write" },
    });
    if (!job) return undefined;
    return { deployment, job };
  }

  private async fail(deploymentId: string, message: string): Promise<void> {
    await this.signal(
      deploymentId,
      { type: "CREATE_FAILED" },
      { errorMessage: message },
      { errorMessage: message },
    );
  }

  private async insertEvent(
    manager: EntityManager,
    deploymentId: string,
    kind: string,
    detail: Record<string, unknown>,
  ): Promise<void> {
    await manager.save(manager.create(DeploymentEvent, { deploymentId, kind, detail }));
  }

  private async requireKey(userId: string, provider: Provider, what: string): Promise<string> {
    const key = await this.secrets.reveal(userId, provider);
    if (!key) {
      throw new AppError(ErrorCode.PROVIDER_SECRET_MISSING, `this needs ${what}`, { provider });
    }
    return key;
  }

  private async networkVolume(apiKey: string, networkVolumeId: string): Promise<NetworkVolume> {
    const volumes = await this.runpod.listNetworkVolumes(apiKey);
    const volume = volumes.find((v) => v.id === networkVolumeId);
    if (!volume) {
      throw new AppError(
        ErrorCode.BAD_USER_INPUT,
        "input.output.networkVolumeId: no network volume with this id in your RunPod account",
        { field: "input.output.networkVolumeId" },
      );
    }
    return volume;
  }

  /**
   * Refuses a run whose `/workspace` (the pod volume, or the network volume mounted there) cannot hold the
   * model cache and the checkpoints (see workspaceGbNeeded). A model (or network volume) whose size is unknown
   * is not checked.
   */
  private async checkDisk(
    request: ResolvedDeployInput,
    config: TrainingConfig,
    networkVolume: NetworkVolume | undefined,
    hfToken: string | undefined,
  ): Promise<void> {
    // A network volume whose size RunPod did not say (0) cannot be judged.
    if (networkVolume && networkVolume.sizeGb <= 0) return;
    const model = await this.options.modelSizes.modelSize(config.modelName, hfToken);
    if (model === null) return;
    const needed = workspaceGbNeeded(model, config);
    const [field, givenGb] = networkVolume
      ? ["input.output.networkVolumeId", networkVolume.sizeGb]
      : ["input.volumeSizeGb", request.volumeSizeGb];
    if (givenGb >= needed.total) return;
    const what =
      `${config.modelName} (${formatParameters(model.parameters)} parameters, ${model.source === "hub" ? "per the Hub" : "estimated from its name"}) ` +
      `needs about ${needed.total} GB under /workspace for a ${config.method} run: ` +
      `${needed.modelCache} GB of model cache and ${needed.checkpoints} GB of checkpoints and output`;
    throw new AppError(
      ErrorCode.BAD_USER_INPUT,
      networkVolume
        ? `${field}: ${what}, and network volume ${networkVolume.id} has ${givenGb} GB`
        : `${field}: ${what}, and ${givenGb} GB were given; set volumeSizeGb to at least ${needed.total}`,
      { field, neededGb: needed.total, givenGb },
    );
  }

  private async findPodByName(apiKey: string, name: string): Promise<PodInfo | undefined> {
    try {
      return (await this.runpod.listPods(apiKey)).find((pod) => pod.name === name);
    } catch {
      return undefined;
    }
  }

  private byIdempotencyKey(userId: string, idempotencyKey: string): Promise<Deployment | null> {
    return this.db.getRepository(Deployment).findOneBy({ userId, idempotencyKey });
  }
}

function isUniqueViolation(error: unknown): boolean {
  const driverError =
    error instanceof QueryFailedError ? (error.driverError as { code?: string }) : undefined;
  return driverError?.code === "23505";
}

function withDeployment(error: unknown, deploymentId: string): unknown {
  if (error instanceof AppError)
    return new AppError(error.code, error.message, { ...error.details, deploymentId });
  return error;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Whether an update takes a deployment to a finished status. */
function finishes(update: Partial<Deployment>): boolean {
  return update.status !== undefined && isFinished(update.status);
}
