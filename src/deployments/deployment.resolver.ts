import type { GraphQLResolveInfo } from "graphql";
import {
  Arg,
  Authorized,
  Ctx,
  Float,
  FieldResolver,
  ID,
  Info,
  Int,
  Mutation,
  Query,
  Resolver,
  Root,
} from "type-graphql";
import { CurrentUser, type GatewayContext } from "../auth/context";
import { microsToUsd } from "../costs/money";
import { projectCost } from "../costs/projection";
import { TrainingJob } from "../jobs/training-job.entity";
import { jobById } from "../jobs/training-job.loaders";
import { argumentGiven, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from "../relay/page-arguments";
import { CloudType } from "../runpod/gpu-catalogue";
import { TrainingConfig } from "../training-configs/training-config.entity";
import { configFromSnapshot } from "../training-configs/training-config.snapshot";
import { isActive } from "./deployment.enums";
import { Deployment } from "./deployment.entity";
import { DeploymentEvent } from "./deployment-event.entity";
import { remainingSecondsByJobId } from "./deployment.loaders";
import type { DeploymentQueryService } from "./deployment-query.service";
import type { DeploymentService } from "./deployment.service";
import type { GpuOfferService } from "../runpod/gpu-offer.service";
import { DeployTrainingInput, DeploymentConnection, DeploymentFilter, GpuOffer } from "./deployment.types";

@Resolver(() => Deployment)
export class DeploymentResolver {
  constructor(
    private readonly queries: DeploymentQueryService,
    private readonly commands: DeploymentService,
    private readonly offers: GpuOfferService,
  ) {}

  @Authorized()
  @Query(() => DeploymentConnection, {
    description: "the caller's deployments, newest first, one page at a time (a Relay connection)",
  })
  deployments(
    @CurrentUser() userId: string,
    @Arg("filter", () => DeploymentFilter, {
      description: "only deployments matching every given condition",
      nullable: true,
    })
    filter: DeploymentFilter | null,
    @Arg("first", () => Int, {
      nullable: true,
      defaultValue: DEFAULT_PAGE_SIZE,
      description: `page size counted from the start (after \`after\`), 0..${MAX_PAGE_SIZE}; the default applies only when \`last\` is not given`,
    })
    first: number | null,
    @Arg("after", () => String, {
      description:
        "a cursor (endCursor of the previous page): only deployments after it; omitted: from the newest",
      nullable: true,
    })
    after: string | null,
    @Arg("last", () => Int, {
      nullable: true,
      description: `page size counted from the end (before \`before\`), 0..${MAX_PAGE_SIZE}; for paging backward`,
    })
    last: number | null,
    @Arg("before", () => String, {
      description:
        "a cursor (startCursor of the next page): only deployments before it; omitted: to the oldest",
      nullable: true,
    })
    before: string | null,
    @Info() info: GraphQLResolveInfo,
  ): Promise<DeploymentConnection> {
    return this.queries.list(userId, filter, {
      first: argumentGiven(info, "first") ? first : undefined,
      after,
      last,
      before,
    });
  }

  @Authorized()
  @Query(() => Deployment, {
    description: "one of the caller's deployments; null when there is none with this id",
    nullable: true,
  })
  deployment(
    @CurrentUser() userId: string,
    @Arg("id", () => ID, { description: "the deployment's id" }) id: string,
  ): Promise<Deployment> {
    return this.queries.get(userId, id);
  }

  @Authorized()
  @Query(() => [GpuOffer], { description: "live prices and stock from RunPod, cached for 60 s" })
  gpuTypes(
    @CurrentUser() _userId: string,
    @Arg("cloudType", () => CloudType, {
      description: "which RunPod cloud to price",
      nullable: true,
      defaultValue: CloudType.SECURE,
    })
    cloudType: CloudType | null,
    @Arg("gpuCount", () => Int, {
      description: "GPUs per pod the offers are priced and stocked for",
      nullable: true,
      defaultValue: 1,
    })
    gpuCount: number | null,
  ): Promise<GpuOffer[]> {
    return this.offers.list({ cloudType: cloudType ?? CloudType.SECURE, gpuCount: gpuCount ?? 1 });
  }

  @Authorized()
  @Mutation(() => Deployment, { description: "rents a GPU pod and starts training with a saved config" })
  deployTraining(
    @CurrentUser() userId: string,
    @Arg("input", () => DeployTrainingInput, { description: "what to run and on what" })
    input: DeployTrainingInput,
  ): Promise<Deployment> {
    return this.commands.deploy(userId, input);
  }

  @Authorized()
  @Mutation(() => Deployment, { description: "terminates the pod; idempotent" })
  stopDeployment(
    @CurrentUser() userId: string,
    @Arg("id", () => ID, { description: "the deployment to stop" }) id: string,
  ): Promise<Deployment> {
    return this.commands.stop(userId, id);
  }

  @Authorized()
  @Mutation(() => Deployment, { description: "pulls status and cost from upstream now" })
  refreshDeployment(
    @CurrentUser() userId: string,
    @Arg("id", () => ID, { description: "the deployment to refresh" }) id: string,
  ): Promise<Deployment> {
    return this.commands.refresh(userId, id);
  }

  @FieldResolver(() => TrainingJob, { description: "the training job running in this deployment" })
  async job(@Root() deployment: Deployment, @Ctx() ctx: GatewayContext): Promise<TrainingJob> {
    const job = await ctx.loaders.get(jobById).load(deployment.jobId);
    if (!job) throw new Error(`deployment ${deployment.id} has no job row`);
    return job;
  }

  @FieldResolver(() => TrainingConfig, { description: "the config as it was when this deployment was made" })
  async trainingConfig(@Root() deployment: Deployment, @Ctx() ctx: GatewayContext): Promise<TrainingConfig> {
    const job = await this.job(deployment, ctx);
    return configFromSnapshot(job.config, deployment.userId);
  }

  @FieldResolver(() => [DeploymentEvent], {
    description: "the audit trail: state changes, upstream calls, budget actions",
  })
  events(@Root() deployment: Deployment): Promise<DeploymentEvent[]> {
    return this.queries.events(deployment.id);
  }

  @FieldResolver(() => Float, {
    nullable: true,
    description: "actual + costPerHour x remaining time reported by the trainer, capped at the budget",
  })
  async projectedCostUsd(@Root() deployment: Deployment, @Ctx() ctx: GatewayContext): Promise<number | null> {
    const active = isActive(deployment.status);
    const remainingSeconds = active
      ? await ctx.loaders.get(remainingSecondsByJobId).load(deployment.jobId)
      : undefined;
    const projected = projectCost({
      active,
      actualMicros: deployment.actualCostMicros,
      costPerHourMicros: deployment.costPerHourMicros,
      disks: { volumeGb: deployment.config.volumeSizeGb, containerGb: deployment.config.containerDiskGb },
      budgetLimitMicros: deployment.budgetLimitMicros,
      remainingSeconds,
    });
    return projected == null ? null : microsToUsd(projected);
  }
}
