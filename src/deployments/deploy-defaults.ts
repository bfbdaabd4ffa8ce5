import { CloudType, GpuType } from "../runpod/gpu-catalogue";
import { CompletionAction } from "./deployment.enums";

/**
 * What a deploy gets for each field the caller leaves out. The GraphQL input type shows these as its defaults
 * and `resolveDeployInput` applies them: both read them from here.
 */
export const DEPLOY_DEFAULTS = {
  gpuType: GpuType.RTX_A4000,
  gpuCount: 1,
  cloudType: CloudType.SECURE,
  budgetLimitUsd: 5.0,
  volumeSizeGb: 20,
  containerDiskGb: 20,
  hubPrivate: true,
  /** The result is delivered before the pod ends, so the pod's disk holds nothing worth paying for. */
  onComplete: CompletionAction.TERMINATE,
  /** A run whose loss went NaN only burns money from there. */
  stopOnNaN: true,
  /** A running pod that posted no metric this long is stopped (a hung pod still bills). */
  stopAfterStallMinutes: 30,
  /** Today's behaviour: no capacity is GPU_UNAVAILABLE at once. */
  waitForCapacityMinutes: 0,
} as const;

/** How long a deploy may wait for capacity, in minutes: a day at most. */
export const WAIT_FOR_CAPACITY_RANGE = { min: 0, max: 24 * 60 } as const;
