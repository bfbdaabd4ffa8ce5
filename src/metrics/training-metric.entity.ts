import { Field, Float, ID, Int, ObjectType } from "type-graphql";
import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from "typeorm";
import { TrainingJob } from "../jobs/training-job.entity";

/** One point of a training curve. A point with the same (job, step) as a stored one replaces it. */
@ObjectType()
@Entity("training_metrics")
export class TrainingMetric {
  /** A point's identity for normalised client caches: its job and its step (not a column). */
  @Field(() => ID, { name: "id", description: "the job and the step, `<jobId>:<step>`" })
  get key(): string {
    return `${this.jobId}:${this.step}`;
  }

  @Field(() => ID)
  @PrimaryColumn({ type: "uuid", primaryKeyConstraintName: "pk_training_metrics" })
  jobId: string;

  @ManyToOne(() => TrainingJob, { onDelete: "CASCADE" })
  @JoinColumn({ name: "job_id", foreignKeyConstraintName: "fk_training_metrics_job" })
  job?: TrainingJob;

  @Field(() => Int)
  @PrimaryColumn({ type: "integer", primaryKeyConstraintName: "pk_training_metrics" })
  step: number;

  @Field(() => Float, { nullable: true })
  @Column("double precision", { nullable: true })
  epoch: number | null;

  @Field(() => Float, { nullable: true })
  @Column("double precision", { nullable: true })
  loss: number | null;

  @Field(() => Float, { nullable: true })
  @Column("double precision", { nullable: true })
  evalLoss: number | null;

  @Field(() => Float, { nullable: true })
  @Column("double precision", { nullable: true })
  learningRate: number | null;

  @Field(() => Float, { nullable: true })
  @Column("double precision", { nullable: true })
  gradNorm: number | null;

  @Field(() => Float, { nullable: true })
  @Column("double precision", { nullable: true })
  samplesPerSecond: number | null;

  @Field(() => Int, { nullable: true })
  @Column("integer", { nullable: true })
  elapsedSeconds: number | null;

  @Field(() => Int, { nullable: true })
  @Column("integer", { nullable: true })
  remainingSeconds: number | null;

  @Field(() => Float, { nullable: true })
  @Column("double precision", { nullable: true })
  progress: number | null;

  @Field(() => Float, { nullable: true })
  @Column("double precision", { nullable: true })
  gpuMemoryAllocatedGb: number | null;

  @Field(() => Float, { nullable: true })
  @Column("double precision", { nullable: true })
  gpuMemoryReservedGb: number | null;

  @Field(() => Float, { nullable: true })
  @Column("double precision", { nullable: true })
  gpuUtilizationPercent: number | null;

  @Field({ name: "timestamp" })
  @Column({ type: "timestamptz", precision: 3, default: () => "now()" })
  recordedAt: Date;
}
