import { Field, Float, ID, Int, ObjectType } from "type-graphql";
import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from "typeorm";
import { microsToUsd, percentOf, type Micros } from "../costs/money";
import { bigintNumberTransformer, microsTransformer } from "../db/transformers";
import { TrainingJob } from "../jobs/training-job.entity";
import { CloudType, GpuType } from "../runpod/gpu-catalogue";
import { Provider } from "../secrets/provider";
import { TrainingConfig } from "../training-configs/training-config.entity";
import { User } from "../users/user.entity";
import { DeploymentStatus, StopReason, type CompletionAction } from "./deployment.enums";
import { Node } from "../relay/node.types";

/** Where the trained adapter goes, as resolved at deploy time. */
export interface DeploymentOutput {
  hubRepoId: string | null;
  hubPrivate: boolean;
  networkVolumeId: string | null;
  /** Upload the result to the gateway; absent on rows made before the gateway stored results. */
  gateway?: boolean;
  onComplete: CompletionAction;
}

/** What was asked for at deploy time, beyond the columns (env values are never stored, only names). */
export interface DeploymentRequest {
  dockerImage: string;
  volumeSizeGb: number;
  containerDiskGb: number;
  fallbackGpuTypes: GpuType[];
  envNames: string[];
}

/** A pod (or an attempt at one) running one training job, with its money. */
@ObjectType({
  implements: Node,
  description: "one training run on a rented GPU pod, with its cost and budget",
})
@Entity("cloud_deployments")
@Index("idx_cloud_deployments_user_created", ["userId", "createdAt", "id"])
@Index("idx_cloud_deployments_status", ["status"])
@Index("idx_cloud_deployments_queued", ["userId", "nextLaunchAt"], { where: `"status" = 'QUEUED'` })
@Index("uq_cloud_deployments_job", ["jobId"], { unique: true })
@Index("uq_cloud_deployments_user_idempotency_key", ["userId", "idempotencyKey"], { unique: true })
export class Deployment {
  @Field(() => ID, { description: "the deployment's id" })
  @PrimaryGeneratedColumn("uuid", { primaryKeyConstraintName: "pk_cloud_deployments" })
  id: string;

  @Column("text")
  userId: string;

  @ManyToOne(() => User, { onDelete: "CASCADE" })
  @JoinColumn({ name: "user_id", foreignKeyConstraintName: "fk_cloud_deployments_user" })
  user?: User;

  @Column("uuid")
  jobId: string;

  @ManyToOne(() => TrainingJob, { onDelete: "CASCADE" })
  @JoinColumn({ name: "job_id", foreignKeyConstraintName: "fk_cloud_deployments_job" })
  job?: TrainingJob;

  @Field(() => Provider, { description: "the provider the pod runs on" })
  @Column("text", { default: Provider.RUNPOD })
  platform: Provider;

  @Column("uuid", { nullable: true })
  trainingConfigId: string | null;

  @ManyToOne(() => TrainingConfig, { onDelete: "SET NULL" })
  @JoinColumn({
    name: "training_config_id",
    foreignKeyConstraintName: "fk_cloud_deployments_training_config",
  })
  trainingConfig?: TrainingConfig;

  @Field(() => String, {
    description: "the provider's pod id; null until the pod is created",
    nullable: true,
  })
  @Column("text", { nullable: true })
  podId: string | null;

  @Field(() => DeploymentStatus, { description: "where the deployment is in its lifecycle" })
  @Column("text")
  status: DeploymentStatus;

  @Field(() => StopReason, { description: "why it stopped; null while it runs", nullable: true })
  @Column("text", { nullable: true })
  stopReason: StopReason | null;

  @Field(() => GpuType, {
    description: "the GPU type the pod got (a fallback when the first had no capacity)",
  })
  @Column("text")
  gpuType: GpuType;

  @Field(() => Int, { description: "GPUs in the pod, 1..8" })
  @Column("integer")
  gpuCount: number;

  @Field(() => CloudType, { description: "the RunPod cloud the pod runs in" })
  @Column("text")
  cloudType: CloudType;

  @Field(() => String, {
    description: "the pod's page in the RunPod console; null until the pod is created",
    name: "consoleUrl",
    nullable: true,
  })
  @Column("text", { nullable: true })
  url: string | null;

  @Column("jsonb")
  config: DeploymentRequest;

  @Column("numeric", {
    name: "cost_per_hour",
    precision: 14,
    scale: 6,
    nullable: true,
    transformer: microsTransformer,
  })
  costPerHourMicros: Micros | null;

  @Column("numeric", { name: "budget_limit", precision: 14, scale: 6, transformer: microsTransformer })
  budgetLimitMicros: Micros;

  @Column("numeric", {
    name: "actual_cost",
    precision: 14,
    scale: 6,
    default: 0,
    transformer: microsTransformer,
  })
  actualCostMicros: Micros;

  @Field(() => Int, { description: "running time so far, in seconds" })
  @Column("integer", { default: 0 })
  uptimeSeconds: number;

  @Column("numeric", {
    name: "max_price_per_hour",
    precision: 14,
    scale: 6,
    nullable: true,
    transformer: microsTransformer,
  })
  maxPricePerHourMicros: Micros | null;

  @Column("integer", { nullable: true })
  maxDurationMinutes: number | null;

  @Column("jsonb", { nullable: true })
  output: DeploymentOutput | null;

  @Column("text", { nullable: true })
  networkVolumeId: string | null;

  @Column("text", { nullable: true })
  idempotencyKey: string | null;

  @Field(() => String, { description: "why it failed; null unless it failed", nullable: true })
  @Column("text", { nullable: true })
  errorMessage: string | null;

  @Field({ description: "when the deployment was requested" })
  @CreateDateColumn({ type: "timestamptz", precision: 3 })
  createdAt: Date;

  @Field(() => Date, { description: "when the pod began running; null until then", nullable: true })
  @Column({ type: "timestamptz", precision: 3, nullable: true })
  startedAt: Date | null;

  @Field(() => Date, { description: "when it ended; null while it runs", nullable: true })
  @Column({ type: "timestamptz", precision: 3, nullable: true })
  completedAt: Date | null;

  @Field({ description: "when the deployment last changed" })
  @UpdateDateColumn({ type: "timestamptz", precision: 3 })
  updatedAt: Date;

  @Field(() => Date, {
    description: "while QUEUED: when the wait for capacity ends and the deployment fails; null otherwise",
    nullable: true,
  })
  @Column({ type: "timestamptz", precision: 3, nullable: true })
  queuedUntil: Date | null;

  /** While QUEUED: when the supervisor tries to create the pod again. */
  @Column({ type: "timestamptz", precision: 3, nullable: true })
  nextLaunchAt: Date | null;

  /** Tries to create the pod that found no capacity (the retry backoff grows with it). */
  @Column("integer", { default: 0 })
  launchAttempts: number;

  /** While QUEUED: what a retry needs, sealed (see DeploymentLauncher); cleared once it leaves the queue. */
  @Column("jsonb", { nullable: true })
  launchSealed: { ciphertext: string; keyVersion: string } | null;

  /** When the pod was known to be gone (terminated by us, by itself, or vanished upstream). */
  @Column({ type: "timestamptz", precision: 3, nullable: true })
  podTerminatedAt: Date | null;

  /** A pending stop: the metrics route answers `stop: true` while it is set. */
  @Column({ type: "timestamptz", precision: 3, nullable: true })
  stopRequestedAt: Date | null;

  @Column("text", { nullable: true })
  stopRequestedReason: StopReason | null;

  /** Health action: a NaN or infinite loss stops the run (deploy input `health.stopOnNaN`). */
  @Column("boolean", { name: "stop_on_nan", default: true })
  stopOnNaN: boolean;

  /** Health action: a running pod silent this many minutes is stopped; 0: never (`health.stopAfterStallMinutes`). */
  @Column("integer", { name: "stop_after_stall_minutes", default: 30 })
  stopAfterStallMinutes: number;

  /** The instant RunPod was told to terminate the pod by itself (the budget's dead-man switch). */
  @Column({ type: "timestamptz", precision: 3, nullable: true })
  terminateAfter: Date | null;

  /** The trainer's own deadline (BUDGET_DEADLINE). */
  @Column({ type: "timestamptz", precision: 3, nullable: true })
  budgetDeadline: Date | null;

  /** When the pod was last observed upstream (accrual runs from here). */
  @Column({ type: "timestamptz", precision: 3, nullable: true })
  lastObservedAt: Date | null;

  /** The pod's own uptime at the last observation (it restarts from 0 when the container restarts). */
  @Column("integer", { default: 0 })
  podUptimeSeconds: number;

  /** Sum of billed seconds x micro-dollars per hour. */
  @Column("bigint", { default: 0, transformer: bigintNumberTransformer })
  gpuPriceSeconds: number;

  /** Sum of seconds x GB of disk (volume + container) while the pod ran. */
  @Column("bigint", { default: 0, transformer: bigintNumberTransformer })
  runningGbSeconds: number;

  /** Sum of seconds x GB of volume disk while the pod was stopped. */
  @Column("bigint", { default: 0, transformer: bigintNumberTransformer })
  stoppedGbSeconds: number;

  @Field(() => Float, {
    description: "the pod's price, USD per hour; null until the pod is created",
    nullable: true,
  })
  get costPerHourUsd(): number | null {
    return this.costPerHourMicros == null ? null : microsToUsd(this.costPerHourMicros);
  }

  @Field(() => Float, { description: "the hard cap, USD: the pod is terminated when reached" })
  get budgetLimitUsd(): number {
    return microsToUsd(this.budgetLimitMicros);
  }

  @Field(() => Float, { description: "what it has cost so far, USD" })
  get actualCostUsd(): number {
    return microsToUsd(this.actualCostMicros);
  }

  @Field(() => Float, { description: "actualCostUsd as a percentage of budgetLimitUsd" })
  get budgetUsedPercent(): number {
    return percentOf(this.actualCostMicros, this.budgetLimitMicros);
  }
}
