import {
  ArrayMaxSize,
  IsPositive,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  NotContains,
  ValidateNested,
} from "class-validator";
import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { CloudType, GPU_COUNT_RANGE, GpuType } from "../runpod/gpu-catalogue";
import { DEPLOY_DEFAULTS, WAIT_FOR_CAPACITY_RANGE } from "./deploy-defaults";
import { CompletionAction, DeploymentStatus } from "./deployment.enums";
import { Deployment } from "./deployment.entity";

registerEnumType(GpuType, {
  valuesConfig: {
    RTX_A4000: { description: "NVIDIA RTX A4000, 16 GB" },
    RTX_A4500: { description: "NVIDIA RTX A4500, 20 GB" },
    RTX_A5000: { description: "NVIDIA RTX A5000, 24 GB" },
    RTX_A6000: { description: "NVIDIA RTX A6000, 48 GB" },
    A40: { description: "NVIDIA A40, 48 GB" },
    L4: { description: "NVIDIA L4, 24 GB" },
    L40: { description: "NVIDIA L40, 48 GB" },
    L40S: { description: "NVIDIA L40S, 48 GB" },
    RTX_4000_ADA: { description: "NVIDIA RTX 4000 Ada, 20 GB" },
    RTX_6000_ADA: { description: "NVIDIA RTX 6000 Ada, 48 GB" },
    RTX_3090: { description: "NVIDIA GeForce RTX 3090, 24 GB" },
    RTX_4090: { description: "NVIDIA GeForce RTX 4090, 24 GB" },
    RTX_5090: { description: "NVIDIA GeForce RTX 5090, 32 GB" },
    A100_PCIE_80GB: { description: "NVIDIA A100 PCIe, 80 GB" },
    A100_SXM_80GB: { description: "NVIDIA A100 SXM, 80 GB" },
    H100_PCIE: { description: "NVIDIA H100 PCIe, 80 GB" },
    H100_SXM: { description: "NVIDIA H100 SXM, 80 GB" },
    H100_NVL: { description: "NVIDIA H100 NVL, 94 GB" },
    H200: { description: "NVIDIA H200, 141 GB" },
    B200: { description: "NVIDIA B200, 180 GB" },
  },
  name: "GpuType",
  description: "Our GPU names; each maps to RunPod's exact gpuTypeId (see the gpuTypes query)",
});
registerEnumType(CloudType, {
  description: "which RunPod cloud a pod runs in",
  valuesConfig: {
    SECURE: { description: "RunPod's Secure Cloud" },
    COMMUNITY: { description: "RunPod's Community Cloud" },
  },
  name: "CloudType",
});

/** Names the gateway sets itself in every pod's environment; a user's env may not override them. */
export const RESERVED_ENV_NAMES = [
  "JOB_ID",
  "JOB_TOKEN",
  "METRICS_API_URL",
  "TRAINGATE_DEPLOYMENT_ID",
  "TRAINGATE_CONFIG_B64",
  "BUDGET_DEADLINE",
  "HF_TOKEN",
  "PUBLIC_KEY",
  "TRAINGATE_GPU_COUNT",
] as const;
/** Prefixes of variables that RunPod or the gateway own. */
export const RESERVED_ENV_PREFIXES = ["RUNPOD_", "TRAINGATE_"] as const;

@InputType({ description: "an environment variable for the pod" })
export class EnvVarInput {
  @Field({ description: "the variable's name, [A-Z_][A-Z0-9_]*, at most 128 characters" })
  @Matches(/^[A-Z_][A-Z0-9_]*$/, { message: "name must match [A-Z_][A-Z0-9_]*" })
  @MaxLength(128)
  name: string;

  @Field({ description: "the variable's value, at most 32768 characters" })
  @MaxLength(32_768)
  value: string;
}

@InputType({ description: "where a training run's result goes and what happens to the pod after" })
export class OutputInput {
  @Field(() => String, {
    nullable: true,
    description: "push the adapter to this Hugging Face repo with the caller's HUGGINGFACE key",
  })
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._-]{0,95}\/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/, {
    message: 'hubRepoId must be a Hugging Face repo id such as "owner/name"',
  })
  @NotContains("--")
  @NotContains("..")
  hubRepoId?: string | null;

  @Field(() => Boolean, {
    description: "create the Hugging Face repo as private",
    nullable: true,
    defaultValue: DEPLOY_DEFAULTS.hubPrivate,
  })
  hubPrivate?: boolean | null;

  @Field(() => String, {
    nullable: true,
    description: "mount this RunPod network volume at /workspace: checkpoints and output survive the pod",
  })
  @Matches(/^[a-z0-9]{1,64}$/, { message: "networkVolumeId must be a RunPod network volume id" })
  networkVolumeId?: string | null;

  @Field(() => Boolean, {
    nullable: true,
    description:
      "upload the result to the gateway (TrainingJob.artifact); default: true when neither hubRepoId nor networkVolumeId is given, so a result is never stranded; false with neither of them is refused unless onComplete is STOP (the result then stays on the stopped pod's disk)",
  })
  gateway?: boolean | null;

  @Field(() => CompletionAction, {
    nullable: true,
    defaultValue: DEPLOY_DEFAULTS.onComplete,
    description:
      "after the result is delivered and verified; STOP (keep the pod's disk, still billed) only on request",
  })
  onComplete?: CompletionAction | null;
}

@InputType({ description: "what the gateway does, besides alerting, when a run looks unhealthy" })
export class HealthActionsInput {
  @Field(() => Boolean, {
    nullable: true,
    defaultValue: DEPLOY_DEFAULTS.stopOnNaN,
    description: "stop the run (the trainer checkpoints and exits) when its loss is NaN or infinite",
  })
  stopOnNaN?: boolean | null;

  @Field(() => Int, {
    nullable: true,
    defaultValue: DEPLOY_DEFAULTS.stopAfterStallMinutes,
    description:
      "stop a RUNNING pod that posted no metric for this many minutes, 0..1440; 0: never (STALLED is still raised)",
  })
  @Min(0)
  @Max(24 * 60)
  stopAfterStallMinutes?: number | null;
}

@InputType({ description: "what deployTraining runs, on what, and within which budget" })
export class DeployTrainingInput {
  @Field(() => ID, { description: "the saved config to train with" })
  trainingConfigId: string;

  @Field(() => GpuType, {
    description: "the GPU type to try first",
    nullable: true,
    defaultValue: DEPLOY_DEFAULTS.gpuType,
  })
  gpuType?: GpuType | null;

  @Field(() => [GpuType], {
    nullable: true,
    defaultValue: [],
    description: "tried in order when the first has no capacity",
  })
  @ArrayMaxSize(10)
  fallbackGpuTypes?: GpuType[] | null;

  @Field(() => Int, {
    nullable: true,
    defaultValue: DEPLOY_DEFAULTS.gpuCount,
    description: `${GPU_COUNT_RANGE.min}..${GPU_COUNT_RANGE.max}`,
  })
  @Min(GPU_COUNT_RANGE.min)
  @Max(GPU_COUNT_RANGE.max)
  gpuCount?: number | null;

  @Field(() => CloudType, {
    description: "which RunPod cloud to rent from",
    nullable: true,
    defaultValue: DEPLOY_DEFAULTS.cloudType,
  })
  cloudType?: CloudType | null;

  @Field(() => Float, {
    nullable: true,
    defaultValue: DEPLOY_DEFAULTS.budgetLimitUsd,
    description: "> 0; hard cap: the pod is terminated when reached",
  })
  @IsPositive()
  @Max(100_000)
  budgetLimitUsd?: number | null;

  @Field(() => Float, { nullable: true, description: "refuse offers above this price" })
  @IsPositive()
  @Max(10_000)
  maxPricePerHourUsd?: number | null;

  @Field(() => Int, { nullable: true, description: "terminate after this much running time" })
  @Min(1)
  @Max(60 * 24 * 30)
  maxDurationMinutes?: number | null;

  @Field(() => String, { nullable: true, description: "default from config" })
  @MinLength(1)
  @MaxLength(512)
  dockerImage?: string | null;

  @Field(() => Int, {
    description: "pod volume at /workspace, GB, 1..4000",
    nullable: true,
    defaultValue: DEPLOY_DEFAULTS.volumeSizeGb,
  })
  @Min(1)
  @Max(4000)
  volumeSizeGb?: number | null;

  @Field(() => Int, {
    description: "container disk, GB, 5..2000",
    nullable: true,
    defaultValue: DEPLOY_DEFAULTS.containerDiskGb,
  })
  @Min(5)
  @Max(2000)
  containerDiskGb?: number | null;

  @Field(() => [EnvVarInput], {
    nullable: true,
    defaultValue: [],
    description: "names [A-Z_][A-Z0-9_]*; reserved names (JOB_ID, JOB_TOKEN, ...) refused",
  })
  // RunPod's own limit; the gateway's variables count against it too (checked with the numbers at deploy).
  @ArrayMaxSize(50)
  @ValidateNested({ each: true })
  env?: EnvVarInput[] | null;

  @Field(() => String, {
    nullable: true,
    description: "same key + same caller: the same deployment comes back, no second pod",
  })
  @MinLength(1)
  @MaxLength(255)
  idempotencyKey?: string | null;

  @Field(() => OutputInput, { nullable: true, description: "where the trained adapter goes" })
  @ValidateNested()
  output?: OutputInput | null;

  @Field(() => Int, {
    nullable: true,
    defaultValue: DEPLOY_DEFAULTS.waitForCapacityMinutes,
    description: `${WAIT_FOR_CAPACITY_RANGE.min}..${WAIT_FOR_CAPACITY_RANGE.max}; > 0: with no capacity (or RunPod briefly down), stay QUEUED and retry until then; 0: GPU_UNAVAILABLE at once`,
  })
  @Min(WAIT_FOR_CAPACITY_RANGE.min)
  @Max(WAIT_FOR_CAPACITY_RANGE.max)
  waitForCapacityMinutes?: number | null;

  @Field(() => HealthActionsInput, {
    nullable: true,
    description:
      "what to do on training-health alerts, besides alerting (defaults: stop on NaN, stop after 30 minutes stalled)",
  })
  @ValidateNested()
  health?: HealthActionsInput | null;
}

@InputType({ description: "conditions a listed deployment must all meet" })
export class DeploymentFilter {
  @Field(() => [DeploymentStatus], { description: "any of these statuses", nullable: true })
  status?: DeploymentStatus[] | null;

  @Field(() => [GpuType], { description: "any of these GPU types", nullable: true })
  gpuType?: GpuType[] | null;

  @Field(() => Date, { description: "created after this time", nullable: true })
  createdAfter?: Date | null;

  @Field(() => Date, { description: "created before this time", nullable: true })
  createdBefore?: Date | null;
}

@ObjectType({ description: "where a page starts and ends, and whether more items lie beyond it (Relay)" })
export class PageInfo {
  @Field({ description: "true when more items follow the page's last" })
  hasNextPage: boolean;

  @Field({ description: "true when more items precede the page's first" })
  hasPreviousPage: boolean;

  @Field(() => String, {
    description: "cursor of the page's first edge (pass as `before` to page backward); null on an empty page",
    nullable: true,
  })
  startCursor: string | null;

  @Field(() => String, {
    description: "cursor of the page's last edge (pass as `after` to page forward); null on an empty page",
    nullable: true,
  })
  endCursor: string | null;
}

@ObjectType({ description: "one deployment in a page, with its cursor" })
export class DeploymentEdge {
  @Field({
    description:
      "opaque position; pass as `after` to continue after this deployment, or as `before` to go back",
  })
  cursor: string;

  @Field(() => Deployment, { description: "the deployment" })
  node: Deployment;
}

@ObjectType({ description: "one page of deployments" })
export class DeploymentConnection {
  @Field(() => [DeploymentEdge], { description: "the page's deployments, each with its cursor" })
  edges: DeploymentEdge[];

  @Field(() => PageInfo, { description: "where the page ends and whether more follow" })
  pageInfo: PageInfo;

  /** Read lazily (a count is a query of its own): a promise until GraphQL resolves it. */
  @Field(() => Int, { description: "how many deployments match the filter, over all pages" })
  totalCount: number | Promise<number>;
}

@ObjectType({ description: "RunPod's current price and stock for one GPU type" })
export class GpuOffer {
  @Field(() => GpuType, { description: "our name for the GPU" })
  gpuType: GpuType;

  @Field({ description: "RunPod's exact gpuTypeId" })
  runpodGpuTypeId: string;

  @Field({ description: "RunPod's display name" })
  displayName: string;

  @Field(() => Int, { description: "memory per GPU, GB" })
  memoryGb: number;

  @Field(() => Float, {
    description: "on-demand price for the pod, USD per hour; null when not offered",
    nullable: true,
  })
  pricePerHourUsd: number | null;

  @Field(() => Float, {
    description: "spot (interruptible) price for the pod, USD per hour; null when not offered",
    nullable: true,
  })
  spotPricePerHourUsd: number | null;

  @Field(() => String, {
    description: "RunPod's stock level, High, Medium, Low or None as RunPod gives it; null when unknown",
    nullable: true,
  })
  stockStatus: string | null;

  @Field({ description: "true when a pod of this type can be rented now" })
  available: boolean;
}
