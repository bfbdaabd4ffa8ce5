import { Field, Float, ID, ObjectType } from "type-graphql";
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
import { TrainingConfig } from "../training-configs/training-config.entity";
import type { TrainingConfigSnapshot } from "../training-configs/training-config.snapshot";
import { User } from "../users/user.entity";
import { JobStatus } from "./training-job.enums";
import { Node } from "../relay/node.types";

/**
 * One training run on one pod. The job token that authorises the pod's callbacks is stored only as its
 * SHA-256 hash; the config is a snapshot taken at deploy time, so later edits of the saved config do not
 * rewrite history.
 */
@ObjectType({
  implements: Node,
  description: "the fine-tuning run inside a deployment, with its progress and result",
})
@Entity("training_jobs")
@Index("idx_training_jobs_user_created", ["userId", "createdAt"])
export class TrainingJob {
  @Field(() => ID, { description: "the job's id" })
  @PrimaryGeneratedColumn("uuid", { primaryKeyConstraintName: "pk_training_jobs" })
  id: string;

  @Column("text")
  userId: string;

  @ManyToOne(() => User, { onDelete: "CASCADE" })
  @JoinColumn({ name: "user_id", foreignKeyConstraintName: "fk_training_jobs_user" })
  user?: User;

  @Column("uuid", { nullable: true })
  trainingConfigId: string | null;

  @ManyToOne(() => TrainingConfig, { onDelete: "SET NULL" })
  @JoinColumn({ name: "training_config_id", foreignKeyConstraintName: "fk_training_jobs_training_config" })
  trainingConfig?: TrainingConfig;

  @Field({ description: "the Hugging Face id of the base model" })
  @Column("text")
  modelName: string;

  @Field({ description: "where the training data comes from" })
  @Column("text")
  datasetUrl: string;

  @Field(() => JobStatus, { description: "where the job is in its lifecycle" })
  @Column("text")
  status: JobStatus;

  @Column("text")
  jobTokenHash: string;

  @Column("jsonb")
  config: TrainingConfigSnapshot;

  @Field(() => Float, { nullable: true, description: "0..100" })
  @Column("double precision", { nullable: true })
  progress: number | null;

  @Field(() => String, {
    nullable: true,
    description:
      "where the adapter was saved: hf://<repo>, runpod-volume://<id>/<path>, gateway://<jobId>, or pod://<podId>/<path>",
  })
  @Column("text", { nullable: true })
  artifactUri: string | null;

  @Field(() => String, { description: "why it failed; null unless it failed", nullable: true })
  @Column("text", { nullable: true })
  errorMessage: string | null;

  @Field(() => Date, { description: "when training began; null until then", nullable: true })
  @Column({ type: "timestamptz", precision: 3, nullable: true })
  startedAt: Date | null;

  @Field(() => Date, { description: "when training ended; null until then", nullable: true })
  @Column({ type: "timestamptz", precision: 3, nullable: true })
  completedAt: Date | null;

  @Field({ description: "when the job was created" })
  @CreateDateColumn({ type: "timestamptz", precision: 3 })
  createdAt: Date;

  @UpdateDateColumn({ type: "timestamptz", precision: 3 })
  updatedAt: Date;
}
