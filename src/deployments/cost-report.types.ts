import { Field, Float, Int, ObjectType } from "type-graphql";
import { GpuType } from "../runpod/gpu-catalogue";
import { Deployment } from "./deployment.entity";

@ObjectType()
export class DeploymentCost {
  @Field(() => Deployment)
  deployment: Deployment;

  @Field(() => Float)
  costUsd: number;

  @Field(() => Float)
  budgetLimitUsd: number;

  @Field(() => Float)
  budgetUsedPercent: number;
}

@ObjectType()
export class GpuTypeCost {
  @Field(() => GpuType)
  gpuType: GpuType;

  @Field(() => Float)
  gpuHours: number;

  @Field(() => Float)
  costUsd: number;
}

@ObjectType()
export class DayCost {
  @Field({ description: "YYYY-MM-DD, UTC" })
  day: string;

  @Field(() => Float)
  costUsd: number;
}

@ObjectType()
export class CostReport {
  @Field()
  from: Date;

  @Field()
  to: Date;

  @Field(() => Float)
  totalUsd: number;

  @Field(() => Float, { description: "sum of costPerHour of running deployments" })
  activeBurnRateUsdPerHour: number;

  @Field(() => Float, { description: "total + what running deployments will still spend by their ETA" })
  projectedUsd: number;

  /** Resolved by `CostResolver.deployments(first)` from `ranked`. */
  @Field(() => [DeploymentCost], {
    description:
      "highest cost first; first at most 1,000. Each is its own cost in the range rounded to $0.0001, so the list " +
      "need not add up to totalUsd (byGpuType and byDay do)",
  })
  deployments?: DeploymentCost[];

  /** Whose report it is: `deployments(first)` reads that user's deployments. */
  userId: string;

  @Field(() => Int, { description: "how many deployments cost anything in the range" })
  deploymentCount: number;

  @Field(() => [GpuTypeCost])
  byGpuType: GpuTypeCost[];

  @Field(() => [DayCost])
  byDay: DayCost[];
}
