import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  OneToOne,
  PrimaryColumn,
  UpdateDateColumn,
} from "typeorm";
import { bigintNumberTransformer } from "../db/transformers";
import { TrainingJob } from "../jobs/training-job.entity";
import type { TarFileEntry } from "./tar-index";
import type { ArtifactStorageKind } from "./artifact-store";

/**
 * The result a pod uploaded to the gateway (one per training job), while it arrives and once it is complete.
 * `receivedBytes` is what the store holds for sure (what `HEAD` answers); `sizeBytes` is the total, known from
 * the first chunk that declares it; `sha256` and `files` are set, and `complete` turns true, only after the
 * whole upload was read back and its hash verified.
 */
@Entity("artifacts")
@Index("idx_artifacts_updated", ["updatedAt"])
export class ArtifactRecord {
  @PrimaryColumn("uuid", { primaryKeyConstraintName: "pk_artifacts" })
  jobId: string;

  @OneToOne(() => TrainingJob, { onDelete: "CASCADE" })
  @JoinColumn({ name: "job_id", foreignKeyConstraintName: "fk_artifacts_job" })
  job?: TrainingJob;

  @Column("text")
  userId: string;

  @Column("text")
  storage: ArtifactStorageKind;

  @Column("text")
  ref: string;

  @Column("bigint", { nullable: true, transformer: bigintNumberTransformer })
  sizeBytes: number | null;

  @Column("bigint", { default: 0, transformer: bigintNumberTransformer })
  receivedBytes: number;

  @Column("text", { nullable: true })
  sha256: string | null;

  @Column("jsonb", { nullable: true })
  files: TarFileEntry[] | null;

  @Column("boolean", { default: false })
  complete: boolean;

  @CreateDateColumn({ type: "timestamptz", precision: 3 })
  createdAt: Date;

  @UpdateDateColumn({ type: "timestamptz", precision: 3 })
  updatedAt: Date;
}
