import { Field, Float, Int, ObjectType } from "type-graphql";
import { GpuType } from "../runpod/gpu-catalogue";
import { Deployment } from "./deployment.entity";

@ObjectType({ description: "one deployment's cost within a cost report's range" })
export class DeploymentCost {
  @Field(() => Deployment, { description: "the deployment" })
  deployment: Deployment;

  @Field(() => Float, { description: "its cost within the range, USD, rounded to $0.0001" })
  costUsd: number;

  @Field(() => Float, { description: "its budget, USD" })
  budgetLimitUsd: number;

  @Field(() => Float, { description: "its whole actual cost as a percentage of its budget" })
  budgetUsedPercent: number;
}

@ObjectType({ description: "cost and GPU hours of one GPU type within a cost report's range" })
export class GpuTypeCost {
  @Field(() => GpuType, { description: "the GPU type" })
  gpuType: GpuType;

  @Field(() => Float, { description: "GPU hours used in the range (hours x GPUs)" })
  gpuHours: number;

  @Field(() => Float, { description: "cost in the range, USD" })
  costUsd: number;
}

@ObjectType({ description: "cost of one UTC day within a cost report's range" })
export class DayCost {
  @Field({ description: "YYYY-MM-DD, UTC" })
  day: string;

  @Field(() => Float, { description: "cost that day, USD" })
  costUsd: number;
}

@ObjectType({ description: "what the caller's deployments cost over a time range, in USD" })
export class CostReport {
  @Field({ description: "start of the range" })
  from: Date;

  @Field({ description: "end of the range" })
  to: Date;

  @Field(() => Float, { description: "total cost in the range, USD" })
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

  /** The `deployments(first)` lists read with the report, by `first` (the query asked for them). */
  ranked?: Map<number, DeploymentCost[]>;

  @Field(() => Int, { description: "how many deployments cost anything in the range" })
  deploymentCount: number;

  @Field(() => [GpuTypeCost], { description: "the range's cost and GPU hours per GPU type" })
  byGpuType: GpuTypeCost[];

  @Field(() => [DayCost], { description: "the range's cost per UTC day" })
  byDay: DayCost[];
}
