import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import { newJobToken } from "../auth/job-token";
import { microsToUsd, usdToMicros, type Micros } from "../costs/money";
import type { ModelSize } from "../hub/model-size";
import { AppError, ErrorCode } from "../errors/app-error";
import { gpuCatalogueEntry, type GpuType } from "../runpod/gpu-catalogue";
import type { GpuOfferService } from "../runpod/gpu-offer.service";
import type { NetworkVolume, PodInfo, RunpodClient } from "../runpod/runpod-client";
import { Provider } from "../secrets/provider";
import type { ProviderSecretService } from "../secrets/provider-secret.service";
import type { TrainingConfig } from "../training-configs/training-config.entity";
import type { TrainingConfigService } from "../training-configs/training-config.service";
import { snapshotOf } from "../training-configs/training-config.snapshot";
import { renderPod } from "../trainer/pod-bootstrap";
import { checkEnvLimit, checkGpuCount, resolveDeployInput, type ResolvedDeployInput } from "./deploy-input";
import { checkDeployQuota, type DeployQuota } from "./deploy-quota";
import { DeploymentRows } from "./deployment-rows";
import { isFinished } from "./deployment.enums";
import { Deployment } from "./deployment.entity";
import { deploymentErrors } from "./deployment.errors";
import { describe, type DeploymentTransitions } from "./deployment-transitions";
import type { DeployTrainingInput } from "./deployment.types";
import { formatParameters, workspaceGbNeeded } from "./disk-sizing";
import { chooseOffers } from "./offer-choice";
import { consoleUrl, podName } from "./pod-name";

/** The trainer's own deadline leaves it this share of the budget's time, to checkpoint before RunPod's cut-off. */
const TRAINER_DEADLINE_SHARE = 0.95;
/** RunPod's own cut-off after a max duration: the supervisor should have acted long before. */
const MAX_DURATION_GRACE_SECONDS = 10 * 60;

export interface LaunchOptions {
  /** `$PUBLIC_URL/api/training/jobs`, handed to pods. */
  metricsApiUrl: string;
  /**
   * How long after the budget runs out RunPod's own terminateAfter fires: one supervisor interval, so that with
   * the gateway up the supervisor stops the pod (checkpoint first, alerts raised), and with it down the
   * overshoot is no more than the supervisor's own bound.
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
}

export interface LaunchDeps {
  db: DataSource;
  runpod: RunpodClient;
  offers: GpuOfferService;
  secrets: ProviderSecretService;
  configs: TrainingConfigService;
  transitions: DeploymentTransitions;
  logger: Logger;
  /** Ends a deployment's pod (the one place that orders it): for a deployment stopped while its pod was made. */
  terminate(deploymentId: string, apiKey: string): Promise<void>;
}

/**
 * The deploy flow: the request is checked and priced before anything is stored, the job and deployment rows
 * are made in one transaction, and the pod is created upstream, trying each acceptable GPU type in turn.
 */
export class DeploymentLauncher {
  private readonly rows: DeploymentRows;

  constructor(
    private readonly deps: LaunchDeps,
    private readonly options: LaunchOptions,
  ) {
    this.rows = new DeploymentRows(deps.db, deps.transitions, options.quota);
  }

  /** Answers the deployment, or the error that ended it (a FAILED row stays when RunPod was called). */
  async deploy(userId: string, input: DeployTrainingInput): Promise<Deployment> {
    const { runpod, secrets, configs, transitions, logger } = this.deps;
    if (this.options.callbackUnreachable) {
      throw deploymentErrors.callbackUnreachable(this.options.callbackUnreachable);
    }
    const request = resolveDeployInput(input, this.options.defaultImage);
    if (request.idempotencyKey) {
      const existing = await this.rows.byIdempotencyKey(userId, request.idempotencyKey);
      if (existing) return existing;
    }
    // Before anything is stored or asked upstream; checked again, under the user's lock, where the rows are made.
    if (this.options.quota) {
      try {
        await checkDeployQuota(this.deps.db.manager, userId, this.options.quota);
      } catch (error) {
        // A twin request with the same key may have made its deployment since the look above: a replay is never refused.
        const replayed = request.idempotencyKey
          ? await this.rows.byIdempotencyKey(userId, request.idempotencyKey)
          : null;
        if (replayed) return replayed;
        throw error;
      }
    }
    const config = await configs.get(userId, request.trainingConfigId);
    checkGpuCount(request.gpuCount, config);
    const apiKey = await secrets.require(
      userId,
      Provider.RUNPOD,
      "a RunPod API key (setProviderSecret with provider RUNPOD)",
    );
    // Any saved Hugging Face token goes to the pod: gated models and datasets need it, not only Hub pushes.
    const hfToken = request.output.hubRepoId
      ? await secrets.require(
          userId,
          Provider.HUGGINGFACE,
          "a Hugging Face token (setProviderSecret with provider HUGGINGFACE) to push to the Hub",
        )
      : ((await secrets.reveal(userId, Provider.HUGGINGFACE)) ?? undefined);
    checkEnvLimit(request.env, hfToken !== undefined);
    const networkVolume = request.output.networkVolumeId
      ? await this.networkVolume(apiKey, request.output.networkVolumeId)
      : undefined;
    await this.checkDisk(request, config, networkVolume, hfToken);

    // Which offers the request can take is known before anything is stored: a deploy refused here (no price,
    // over maxPricePerHourUsd, over budget) leaves no row behind and calls RunPod for nothing but prices.
    const offers = await this.deps.offers
      .list({ cloudType: request.cloudType, gpuCount: request.gpuCount })
      .catch((error: unknown) => {
        logger.warn({ err: describe(error), userId }, "could not read GPU prices");
        return [];
      });
    const { candidates, refusals } = chooseOffers(request, offers);

    const { token, hash } = newJobToken();
    const created = await this.rows.create(userId, request, config.id, snapshotOf(config), hash);
    if (!created.isNew) return created.deployment;
    const deployment = created.deployment;
    await transitions.publish(deployment);
    if (refusals.length > 0) await transitions.recordEvent(deployment.id, "offers.refused", { refusals });

    let capacityMessage: string | undefined;
    for (const { gpuType, priceMicros, affordable } of candidates) {
      const createdAt = transitions.now();
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
        pod = await runpod.createPod(apiKey, {
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
          // A pod runs in its network volume's data centre.
          dataCenterId: networkVolume?.dataCenterId ?? undefined,
          terminateAfter: deadlines.terminateAfter,
        });
      } catch (error) {
        if (error instanceof AppError && error.code === ErrorCode.GPU_UNAVAILABLE) {
          capacityMessage = error.message;
          refusals.push(`${gpuType}: no capacity`);
          await transitions.recordEvent(deployment.id, "pod.no_capacity", {
            gpuType,
            message: error.message,
          });
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
          throw deploymentErrors.withDeployment(error, deployment.id);
        }
        pod = found;
      }
      return this.podCreated(deployment.id, pod, apiKey, { gpuType, priceMicros, createdAt, ...deadlines });
    }

    // Every candidate was asked and none had capacity: RunPod was called, so the deployment stays, FAILED.
    const message = `no GPU available: ${refusals.join("; ")}. RunPod said: ${capacityMessage ?? "no capacity"}`;
    await this.fail(deployment.id, message);
    throw deploymentErrors.noGpu(message, deployment.id);
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
    let stillWanted = false;
    await this.deps.transitions.transition(deploymentId, ({ deployment }) => {
      stillWanted = !isFinished(deployment.status);
      const costPerHourMicros = pod.costPerHr ? usdToMicros(pod.costPerHr) : offer.priceMicros;
      return {
        signal: { type: "POD_CREATED" },
        update: {
          podId: pod.id,
          gpuType: offer.gpuType,
          url: consoleUrl(pod.id),
          costPerHourMicros,
          terminateAfter: offer.terminateAfter,
          budgetDeadline: offer.budgetDeadline,
          lastObservedAt: offer.createdAt,
        },
        events: [
          {
            kind: "pod.created",
            detail: {
              podId: pod.id,
              gpuType: offer.gpuType,
              runpodGpuTypeId: gpuCatalogueEntry(offer.gpuType).runpodGpuTypeId,
              pricePerHourUsd: microsToUsd(costPerHourMicros),
              terminateAfter: offer.terminateAfter.toISOString(),
              budgetDeadline: offer.budgetDeadline.toISOString(),
            },
          },
        ],
        announce: true,
      };
    });
    // Stopped while the pod was being created: it must not run on.
    if (!stillWanted) await this.deps.terminate(deploymentId, apiKey);
    return this.deps.db.getRepository(Deployment).findOneByOrFail({ id: deploymentId });
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

  private async fail(deploymentId: string, message: string): Promise<void> {
    await this.deps.transitions.signal(
      deploymentId,
      { type: "CREATE_FAILED" },
      { errorMessage: message },
      { errorMessage: message },
    );
  }

  /**
   * The caller's network volume: the pod is placed in its data centre and the disk check reads its size.
   * BAD_USER_INPUT on the field when the account has no such volume (the id is a value the caller gave).
   */
  private async networkVolume(apiKey: string, networkVolumeId: string): Promise<NetworkVolume> {
    const volumes = await this.deps.runpod.listNetworkVolumes(apiKey);
    const volume = volumes.find((v) => v.id === networkVolumeId);
    if (!volume) throw deploymentErrors.networkVolumeNotFound();
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
    throw deploymentErrors.badInputWith(
      field,
      networkVolume
        ? `${field}: ${what}, and network volume ${networkVolume.id} has ${givenGb} GB`
        : `${field}: ${what}, and ${givenGb} GB were given; set volumeSizeGb to at least ${needed.total}`,
      { neededGb: needed.total, givenGb },
    );
  }

  private async findPodByName(apiKey: string, name: string): Promise<PodInfo | undefined> {
    try {
      return (await this.deps.runpod.listPods(apiKey)).find((pod) => pod.name === name);
    } catch {
      return undefined;
    }
  }
}
