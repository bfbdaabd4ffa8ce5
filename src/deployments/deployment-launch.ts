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
import { snapshotOf, type TrainingConfigSnapshot } from "../training-configs/training-config.snapshot";
import { renderPod } from "../trainer/pod-bootstrap";
import {
  checkEnvLimit,
  checkGpuCount,
  checkModelAvailable,
  resolveDeployInput,
  type ResolvedDeployInput,
} from "./deploy-input";
import { checkDeployQuota, type DeployQuota } from "./deploy-quota";
import { DeploymentRows } from "./deployment-rows";
import { DeploymentStatus, isFinished } from "./deployment.enums";
import { queueRetryDelayMs } from "./deployment.state";
import { Deployment } from "./deployment.entity";
import { deploymentErrors } from "./deployment.errors";
import { describe, type DeploymentTransitions } from "./deployment-transitions";
import type { DeployTrainingInput } from "./deployment.types";
import { formatParameters, workspaceGbNeeded } from "./disk-sizing";
import { chooseOffers, type Candidate } from "./offer-choice";
import { consoleUrl, podName } from "./pod-name";

/** What a try at creating the pod needs beyond the rows: sealed on a QUEUED deployment for its retries. */
interface LaunchPlan {
  request: ResolvedDeployInput;
  candidates: Candidate[];
  refusals: string[];
  /** The job token the pod is given (its hash is on the job): every try hands the same one. */
  token: string;
  /** The network volume's data centre, where the pod must run. */
  dataCenterId: string | null;
}

/** One try's outcome: the pod made, or a reason to wait (and the error to answer when the caller does not). */
type Attempt =
  { kind: "created"; deployment: Deployment } | { kind: "wait"; message: string; error: AppError };

/** What a queued deployment's sealed plan is bound to. */
const launchPurpose = (deploymentId: string) => `deployment:${deploymentId}:launch`;

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
  /**
   * What pods can load when they are the simulator's local processes; null or absent for pods that load from
   * the Hub (see modelUnavailable): a config saved under another setting is refused at deploy.
   */
  localModels?: readonly string[] | null;
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
    const { secrets, configs, transitions, logger } = this.deps;
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
    checkModelAvailable(config.modelName, this.options.localModels ?? null);
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

    const plan: LaunchPlan = {
      request,
      candidates,
      refusals,
      token,
      dataCenterId: networkVolume?.dataCenterId ?? null,
    };
    const outcome = await this.attempt(deployment, plan, apiKey, hfToken, config);
    if (outcome.kind === "created") return outcome.deployment;
    if (request.waitForCapacityMinutes > 0) return this.queue(deployment, plan, outcome.message);
    // RunPod was called, so the deployment stays, FAILED.
    await this.fail(deployment.id, outcome.message);
    throw outcome.error;
  }

  /**
   * Tries a QUEUED deployment again (the supervisor calls this when its next try is due): FAILED with
   * GPU_UNAVAILABLE once its wait is over, else a pod is looked for by name first (an earlier try whose answer
   * was lost may have made it: it is taken, never a second created), then each GPU type is asked in turn; with
   * no capacity again, the next try is put off (30 s doubling to 5 min). An upstream error reading the pods is
   * thrown, and the try is made again on the supervisor's next run.
   */
  async retryQueued(deploymentId: string, now: Date): Promise<void> {
    const deployment = await this.deps.db
      .getRepository(Deployment)
      .findOne({ where: { id: deploymentId }, relations: { job: true } });
    if (deployment?.status !== DeploymentStatus.QUEUED || !deployment.launchSealed || !deployment.job) return;
    if (deployment.queuedUntil && now >= deployment.queuedUntil) {
      await this.fail(
        deployment.id,
        `GPU_UNAVAILABLE: no GPU had capacity before the wait for capacity ended ` +
          `(${deployment.launchAttempts} tries until ${deployment.queuedUntil.toISOString()})`,
      );
      return;
    }
    const plan = JSON.parse(
      this.deps.secrets.open(deployment.userId, launchPurpose(deployment.id), deployment.launchSealed),
    ) as LaunchPlan;
    const apiKey = await this.deps.secrets.require(
      deployment.userId,
      Provider.RUNPOD,
      "a RunPod API key (setProviderSecret with provider RUNPOD)",
    );
    const hfToken = (await this.deps.secrets.reveal(deployment.userId, Provider.HUGGINGFACE)) ?? undefined;
    const found = (await this.deps.runpod.listPods(apiKey)).find((pod) => pod.name === podName(deploymentId));
    if (found) {
      const offer = plan.candidates.find((c) => c.gpuType === found.gpuType) ?? plan.candidates[0];
      await this.podCreated(deploymentId, found, apiKey, this.offerAt(offer, plan.request));
      return;
    }
    const outcome = await this.attempt(deployment, plan, apiKey, hfToken, deployment.job.config);
    if (outcome.kind === "created") return;
    const attempts = deployment.launchAttempts + 1;
    await this.deps.db.getRepository(Deployment).update(
      { id: deploymentId, status: DeploymentStatus.QUEUED },
      {
        launchAttempts: attempts,
        nextLaunchAt: new Date(now.getTime() + queueRetryDelayMs(attempts - 1, Math.random())),
      },
    );
  }

  /**
   * One try at each candidate GPU type in turn: the deployment with its pod, or why none was made when waiting
   * could help (no capacity anywhere, or RunPod briefly unavailable). Any other failure fails the deployment
   * and is thrown. A create whose outcome is unknown is resolved by finding the pod by its name.
   */
  private async attempt(
    deployment: Deployment,
    plan: LaunchPlan,
    apiKey: string,
    hfToken: string | undefined,
    config: Pick<TrainingConfigSnapshot, "modelName" | "datasetUrl" | "method" | "hyperparameters">,
  ): Promise<Attempt> {
    const { runpod, transitions } = this.deps;
    const { request } = plan;
    const refusals = [...plan.refusals];
    let capacityMessage: string | undefined;
    for (const candidate of plan.candidates) {
      const { gpuType } = candidate;
      const offer = this.offerAt(candidate, request);
      const rendered = await renderPod({
        jobId: deployment.jobId,
        jobToken: plan.token,
        deploymentId: deployment.id,
        metricsApiUrl: this.options.metricsApiUrl,
        budgetDeadline: offer.budgetDeadline,
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
          dataCenterId: plan.dataCenterId ?? undefined,
          terminateAfter: offer.terminateAfter,
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
          const message = error instanceof AppError ? error.message : "the pod could not be created";
          // Briefly unavailable (5xx, rate limit, timeout): a caller who waits gets a later try.
          if (error instanceof AppError && error.code === ErrorCode.UPSTREAM_UNAVAILABLE) {
            await transitions.recordEvent(deployment.id, "pod.create_unavailable", { gpuType, message });
            return {
              kind: "wait",
              message,
              error: deploymentErrors.withDeployment(error, deployment.id) as AppError,
            };
          }
          await this.fail(deployment.id, message);
          throw deploymentErrors.withDeployment(error, deployment.id);
        }
        pod = found;
      }
      return { kind: "created", deployment: await this.podCreated(deployment.id, pod, apiKey, offer) };
    }
    const message = `no GPU available: ${refusals.join("; ")}. RunPod said: ${capacityMessage ?? "no capacity"}`;
    return { kind: "wait", message, error: deploymentErrors.noGpu(message, deployment.id) };
  }

  /**
   * Puts a deployment whose first try made no pod in the queue, with what its retries need sealed on its row
   * (the caller's env values and the job token are secrets), its first retry due in 30 s.
   */
  private async queue(deployment: Deployment, plan: LaunchPlan, why: string): Promise<Deployment> {
    const sealed = this.deps.secrets.seal(
      deployment.userId,
      launchPurpose(deployment.id),
      JSON.stringify(plan),
    );
    const queued = await this.deps.transitions.transition(deployment.id, (_locked, at) => {
      const queuedUntil = new Date(at.getTime() + plan.request.waitForCapacityMinutes * 60_000);
      return {
        signal: { type: "QUEUE" },
        update: {
          queuedUntil,
          nextLaunchAt: new Date(at.getTime() + queueRetryDelayMs(0, Math.random())),
          launchAttempts: 1,
          launchSealed: sealed,
        },
        events: [{ kind: "deployment.queued", detail: { why, until: queuedUntil.toISOString() } }],
        announce: true,
      };
    });
    return queued ?? this.deps.db.getRepository(Deployment).findOneByOrFail({ id: deployment.id });
  }

  /** A candidate offer's price and deadlines, counted from now. */
  private offerAt(candidate: Candidate, request: ResolvedDeployInput) {
    const createdAt = this.deps.transitions.now();
    return {
      gpuType: candidate.gpuType,
      priceMicros: candidate.priceMicros,
      createdAt,
      ...this.deadlines(createdAt, candidate.affordable, request.maxDurationMinutes),
    };
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
