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
import { DEPLOY_DEFAULTS } from "./deploy-defaults";
import { CompletionAction, DeploymentStatus } from "./deployment.enums";
import { Deployment } from "./deployment.entity";

registerEnumType(GpuType, {
  name: "GpuType",
  description: "Our GPU names; each maps to RunPod's exact gpuTypeId (see the gpuTypes query)",
});
registerEnumType(CloudType, { name: "CloudType" });

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

@InputType()
export class EnvVarInput {
  @Field()
  @Matches(/^[A-Z_][A-Z0-9_]*$/, { message: "name must match [A-Z_][A-Z0-9_]*" })
  @MaxLength(128)
  name: string;

  @Field()
  @MaxLength(32_768)
  value: string;
}

@InputType()
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

  @Field(() => Boolean, { nullable: true, defaultValue: DEPLOY_DEFAULTS.hubPrivate })
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
      "upload the result to the gateway (TrainingJob.artifact); default: true when neither hubRepoId nor networkVolumeId is given, so a result is never stranded",
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

@InputType()
export class DeployTrainingInput {
  @Field(() => ID)
  trainingConfigId: string;

  @Field(() => GpuType, { nullable: true, defaultValue: DEPLOY_DEFAULTS.gpuType })
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

  @Field(() => CloudType, { nullable: true, defaultValue: DEPLOY_DEFAULTS.cloudType })
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

  @Field(() => Int, { nullable: true, defaultValue: DEPLOY_DEFAULTS.volumeSizeGb })
  @Min(1)
  @Max(4000)
  volumeSizeGb?: number | null;

  @Field(() => Int, { nullable: true, defaultValue: DEPLOY_DEFAULTS.containerDiskGb })
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
}

@InputType()
export class DeploymentFilter {
  @Field(() => [DeploymentStatus], { nullable: true })
  status?: DeploymentStatus[] | null;

  @Field(() => [GpuType], { nullable: true })
  gpuType?: GpuType[] | null;

  @Field(() => Date, { nullable: true })
  createdAfter?: Date | null;

  @Field(() => Date, { nullable: true })
  createdBefore?: Date | null;
}

@ObjectType()
export class PageInfo {
  @Field()
  hasNextPage: boolean;

  @Field(() => String, { nullable: true })
  endCursor: string | null;
}

@ObjectType()
export class DeploymentEdge {
  @Field()
  cursor: string;

  @Field(() => Deployment)
  node: Deployment;
}

@ObjectType()
export class DeploymentConnection {
  @Field(() => [DeploymentEdge])
  edges: DeploymentEdge[];

  @Field(() => PageInfo)
  pageInfo: PageInfo;

  /** Read lazily (a count is a query of its own): a promise until GraphQL resolves it. */
  @Field(() => Int)
  totalCount: number | Promise<number>;
}

@ObjectType()
export class GpuOffer {
  @Field(() => GpuType)
  gpuType: GpuType;

  @Field()
  runpodGpuTypeId: string;

  @Field()
  displayName: string;

  @Field(() => Int)
  memoryGb: number;

  @Field(() => Float, { nullable: true })
  pricePerHourUsd: number | null;

  @Field(() => Float, { nullable: true })
  spotPricePerHourUsd: number | null;

  @Field(() => String, { nullable: true })
  stockStatus: string | null;

  @Field()
  available: boolean;
}
