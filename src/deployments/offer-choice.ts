import { microsToUsd, usdToMicros, type Micros } from "../costs/money";
import { runningMicrosPerHour, secondsAffordable } from "../costs/pricing";
import type { GpuType } from "../runpod/gpu-catalogue";
import type { ResolvedDeployInput } from "./deploy-input";
import { deploymentErrors } from "./deployment.errors";

/** A deployment cannot be made for less than this much running time at the offer's price. */
export const MIN_AFFORDABLE_SECONDS = 10 * 60;

export interface Candidate {
  gpuType: GpuType;
  priceMicros: Micros;
  /** Seconds of running time (GPU and disks) the budget pays for at this offer. */
  affordable: number;
}

export interface OfferChoice {
  /** The GPU types to try, in the caller's order. */
  candidates: Candidate[];
  /** Why each other GPU type was left out, for the error or the audit trail. */
  refusals: string[];
}

/**
 * Which of the requested GPU types the request can take, from the live offers: a type RunPod quotes no price
 * for, one above maxPricePerHourUsd, or one the budget pays for less than MIN_AFFORDABLE_SECONDS of, is left
 * out. Throws BUDGET_EXCEEDED (with the numbers of the cheapest) when the budget is why none is left, and
 * GPU_UNAVAILABLE otherwise. Pure.
 */
export function chooseOffers(
  request: Pick<
    ResolvedDeployInput,
    | "gpuTypes"
    | "gpuCount"
    | "maxPricePerHourMicros"
    | "volumeSizeGb"
    | "containerDiskGb"
    | "budgetLimitMicros"
  >,
  offers: readonly { gpuType: GpuType; pricePerHourUsd: number | null }[],
): OfferChoice {
  const refusals: string[] = [];
  const candidates: Candidate[] = [];
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
  if (candidates.length > 0) return { candidates, refusals };
  if (cheapestUnaffordable) {
    const minutes = MIN_AFFORDABLE_SECONDS / 60;
    const { gpuType, perHour } = cheapestUnaffordable;
    throw deploymentErrors.budgetTooSmall(
      `budgetLimitUsd $${microsToUsd(request.budgetLimitMicros)} pays for less than ${minutes} minutes: ` +
        `${gpuType} x${request.gpuCount} costs $${microsToUsd(perHour)}/h ` +
        `(${minutes} minutes need $${microsToUsd(Math.ceil((perHour * MIN_AFFORDABLE_SECONDS) / 3600))})`,
    );
  }
  throw deploymentErrors.noGpu(`no GPU available: ${refusals.join("; ")}`);
}
