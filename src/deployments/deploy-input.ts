import { usdToMicros, type Micros } from "../costs/money";
import type { CloudType, GpuType } from "../runpod/gpu-catalogue";
import { GATEWAY_ENV_NAMES } from "../trainer/pod-bootstrap";
import { modelUnavailable } from "../training-configs/model-availability";
import { Quantization, TrainingMethod } from "../training-configs/training-config.enums";
import { CompletionAction } from "./deployment.enums";
import { DEPLOY_DEFAULTS } from "./deploy-defaults";
import { deploymentErrors } from "./deployment.errors";
import { RESERVED_ENV_NAMES, RESERVED_ENV_PREFIXES, type DeployTrainingInput } from "./deployment.types";

const bad = deploymentErrors.badInput;

/** A deploy request with every default applied and every cross-field rule checked. */
export interface ResolvedDeployInput {
  trainingConfigId: string;
  /** The primary GPU type first, then the fallbacks, without repeats. */
  gpuTypes: GpuType[];
  gpuCount: number;
  cloudType: CloudType;
  budgetLimitMicros: Micros;
  maxPricePerHourMicros: Micros | null;
  maxDurationMinutes: number | null;
  dockerImage: string;
  volumeSizeGb: number;
  containerDiskGb: number;
  env: Record<string, string>;
  idempotencyKey: string | null;
  output: {
    hubRepoId: string | null;
    hubPrivate: boolean;
    networkVolumeId: string | null;
    /** Upload the result to the gateway (TrainingJob.artifact). */
    gateway: boolean;
    onComplete: CompletionAction;
  };
  /** How long to stay QUEUED when no GPU has capacity; 0: fail at once. */
  waitForCapacityMinutes: number;
  /** What the training-health alerts also do. */
  health: { stopOnNaN: boolean; stopAfterStallMinutes: number };
}

/**
 * Docker image references: `[registry[:port]/]path[:tag][@digest]`, lower-case path components (the grammar of
 * distribution/reference, simplified to what a registry accepts).
 */
const IMAGE_REFERENCE =
  /^(?:[a-zA-Z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

/** Applies defaults and checks the rules class-validator cannot express. Throws BAD_USER_INPUT naming the field. */
export function resolveDeployInput(input: DeployTrainingInput, defaultImage: string): ResolvedDeployInput {
  const gpuType = input.gpuType ?? DEPLOY_DEFAULTS.gpuType;
  const gpuTypes = [gpuType];
  for (const fallback of input.fallbackGpuTypes ?? [])
    if (!gpuTypes.includes(fallback)) gpuTypes.push(fallback);

  const env: Record<string, string> = {};
  for (const [index, variable] of (input.env ?? []).entries()) {
    const field = `input.env.${index}.name`;
    if (
      (RESERVED_ENV_NAMES as readonly string[]).includes(variable.name) ||
      RESERVED_ENV_PREFIXES.some((prefix) => variable.name.startsWith(prefix))
    ) {
      throw bad(field, `${variable.name} is reserved: the gateway or RunPod sets it`);
    }
    if (variable.name in env) throw bad(field, `${variable.name} is given twice`);
    env[variable.name] = variable.value;
  }

  const dockerImage = input.dockerImage?.trim() || defaultImage;
  if (!IMAGE_REFERENCE.test(dockerImage)) {
    throw bad(
      "input.dockerImage",
      "must be a Docker image reference such as runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2204",
    );
  }

  const hubRepoId = input.output?.hubRepoId ?? null;
  const networkVolumeId = input.output?.networkVolumeId ?? null;
  const budget = input.budgetLimitUsd ?? DEPLOY_DEFAULTS.budgetLimitUsd;
  const budgetLimitMicros = usdToMicros(budget);
  if (!(budgetLimitMicros > 0)) throw bad("input.budgetLimitUsd", "must be greater than 0");

  // With neither the Hub nor a volume nor the gateway, the result is only on the pod's disk: TERMINATE deletes it.
  const gateway = input.output?.gateway ?? !(hubRepoId || networkVolumeId);
  const onComplete = input.output?.onComplete ?? DEPLOY_DEFAULTS.onComplete;
  if (!gateway && !hubRepoId && !networkVolumeId && onComplete === CompletionAction.TERMINATE) {
    throw bad(
      "input.output.gateway",
      "the result would be deleted with the pod: give hubRepoId or networkVolumeId, keep gateway true, " +
        "or set onComplete STOP",
    );
  }

  return {
    trainingConfigId: input.trainingConfigId,
    gpuTypes,
    gpuCount: input.gpuCount ?? DEPLOY_DEFAULTS.gpuCount,
    cloudType: input.cloudType ?? DEPLOY_DEFAULTS.cloudType,
    budgetLimitMicros,
    maxPricePerHourMicros: input.maxPricePerHourUsd == null ? null : usdToMicros(input.maxPricePerHourUsd),
    maxDurationMinutes: input.maxDurationMinutes ?? null,
    dockerImage,
    volumeSizeGb: input.volumeSizeGb ?? DEPLOY_DEFAULTS.volumeSizeGb,
    containerDiskGb: input.containerDiskGb ?? DEPLOY_DEFAULTS.containerDiskGb,
    env,
    idempotencyKey: input.idempotencyKey ?? null,
    output: {
      hubRepoId,
      hubPrivate: input.output?.hubPrivate ?? DEPLOY_DEFAULTS.hubPrivate,
      networkVolumeId,
      // A result is never stranded: with neither the Hub nor a network volume it goes to the gateway.
      gateway,
      onComplete,
    },
    waitForCapacityMinutes: input.waitForCapacityMinutes ?? DEPLOY_DEFAULTS.waitForCapacityMinutes,
    health: {
      stopOnNaN: input.health?.stopOnNaN ?? DEPLOY_DEFAULTS.stopOnNaN,
      stopAfterStallMinutes: input.health?.stopAfterStallMinutes ?? DEPLOY_DEFAULTS.stopAfterStallMinutes,
    },
  };
}

/** RunPod takes at most this many environment variables per pod. */
export const RUNPOD_MAX_ENV_VARS = 50;

/**
 * Refuses a caller's env that, with the gateway's own variables (and HF_TOKEN when a Hugging Face token goes
 * to the pod), exceeds RunPod's limit per pod. Variables RunPod injects itself (RUNPOD_*) do not count.
 */
export function checkEnvLimit(env: Readonly<Record<string, string>>, withHfToken: boolean): void {
  const own = GATEWAY_ENV_NAMES.length + (withHfToken ? 1 : 0);
  const total = Object.keys(env).length + own;
  if (total > RUNPOD_MAX_ENV_VARS) {
    throw bad(
      "input.env",
      `RunPod allows ${RUNPOD_MAX_ENV_VARS} environment variables per pod and the gateway sets ${own} itself, ` +
        `so at most ${RUNPOD_MAX_ENV_VARS - own} may be given (got ${Object.keys(env).length})`,
    );
  }
}

/**
 * Refuses more than one GPU for a quantized base (QLoRA, INT4/INT8): bitsandbytes loads it onto one GPU, so
 * the others would be billed and idle.
 */
export function checkGpuCount(
  gpuCount: number,
  config: { method: TrainingMethod; hyperparameters: { quantization: Quantization } },
): void {
  if (gpuCount <= 1) return;
  const quantized =
    config.method === TrainingMethod.QLORA || config.hyperparameters.quantization !== Quantization.NONE;
  if (quantized) {
    throw bad(
      "input.gpuCount",
      `a ${config.method} run on a ${config.hyperparameters.quantization} base uses one GPU ` +
        `(the quantized model is pinned to a single device), so ${gpuCount} GPUs would idle; ` +
        "use gpuCount 1, or LORA or FULL without quantization for multi-GPU training",
    );
  }
}

/**
 * Refuses a saved config whose model these pods cannot load (a local model of the simulator on RunPod, or a Hub
 * model on the simulator's offline local pods): it may have been saved while the gateway ran otherwise.
 */
export function checkModelAvailable(modelName: string, localModels: readonly string[] | null): void {
  const unavailable = modelUnavailable(modelName, localModels);
  if (unavailable !== null)
    throw bad("input.trainingConfigId", `the training config's modelName: ${unavailable}`);
}
