import { Field, Float, ID, Int, ObjectType } from "type-graphql";
import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from "typeorm";
import { TrainingJob } from "../jobs/training-job.entity";
import { Node } from "../relay/node.types";

/** One point of a training curve. A point with the same (job, step) as a stored one replaces it. */
@ObjectType({ implements: Node, description: "one training step's metrics, as reported by the trainer" })
@Entity("training_metrics")
export class TrainingMetric {
  /** A point's identity for normalised client caches: its job and its step (not a column). */
  @Field(() => ID, { name: "id", description: "the job and the step, `<jobId>:<step>`" })
  get key(): string {
    return `${this.jobId}:${this.step}`;
  }

  @Field(() => ID, { description: "the job the point belongs to" })
  @PrimaryColumn({ type: "uuid", primaryKeyConstraintName: "pk_training_metrics" })
  jobId: string;

  @ManyToOne(() => TrainingJob, { onDelete: "CASCADE" })
  @JoinColumn({ name: "job_id", foreignKeyConstraintName: "fk_training_metrics_job" })
  job?: TrainingJob;

  @Field(() => Int, { description: "the optimizer step" })
  @PrimaryColumn({ type: "integer", primaryKeyConstraintName: "pk_training_metrics" })
  step: number;

  @Field(() => Float, { description: "epochs done so far, fractional", nullable: true })
  @Column("double precision", { nullable: true })
  epoch: number | null;

  @Field(() => Float, { description: "training loss at this step", nullable: true })
  @Column("double precision", { nullable: true })
  loss: number | null;

  @Field(() => Float, {
    description: "loss on the evaluation split; null when not evaluated at this step",
    nullable: true,
  })
  @Column("double precision", { nullable: true })
  evalLoss: number | null;

  @Field(() => Float, { description: "learning rate at this step", nullable: true })
  @Column("double precision", { nullable: true })
  learningRate: number | null;

  @Field(() => Float, { description: "gradient norm at this step", nullable: true })
  @Column("double precision", { nullable: true })
  gradNorm: number | null;

  @Field(() => Float, { description: "training throughput, samples per second", nullable: true })
  @Column("double precision", { nullable: true })
  samplesPerSecond: number | null;

  @Field(() => Int, { description: "training time so far, in seconds", nullable: true })
  @Column("integer", { nullable: true })
  elapsedSeconds: number | null;

  @Field(() => Int, { description: "the trainer's estimate of the time left, in seconds", nullable: true })
  @Column("integer", { nullable: true })
  remainingSeconds: number | null;

  @Field(() => Float, { description: "percentage of the run done, 0..100", nullable: true })
  @Column("double precision", { nullable: true })
  progress: number | null;

  @Field(() => Float, { description: "GPU memory allocated by tensors, GB", nullable: true })
  @Column("double precision", { nullable: true })
  gpuMemoryAllocatedGb: number | null;

  @Field(() => Float, { description: "GPU memory reserved by the allocator, GB", nullable: true })
  @Column("double precision", { nullable: true })
  gpuMemoryReservedGb: number | null;

  @Field(() => Float, { description: "GPU utilization, 0..100", nullable: true })
  @Column("double precision", { nullable: true })
  gpuUtilizationPercent: number | null;

  @Field({
    description:
      "true when the trainer sent NaN or an infinity for loss, evalLoss or gradNorm (those are null here)",
  })
  @Column("boolean", { default: false })
  nonFinite: boolean;

  @Field({ description: "when the trainer recorded the point", name: "timestamp" })
  @Column({ type: "timestamptz", precision: 3, default: () => "now()" })
  recordedAt: Date;
}
