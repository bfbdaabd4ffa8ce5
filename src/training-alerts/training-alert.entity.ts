import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from "typeorm";
import { Deployment } from "../deployments/deployment.entity";
import type { TrainingAlertKind } from "./training-alert.enums";

/**
 * A raised training-health alert. The primary key makes each kind fire at most once per deployment, whichever
 * replica or restart sees the condition first.
 */
@Entity("training_alerts")
export class TrainingAlertRecord {
  @PrimaryColumn({ type: "uuid", primaryKeyConstraintName: "pk_training_alerts" })
  deploymentId: string;

  @ManyToOne(() => Deployment, { onDelete: "CASCADE" })
  @JoinColumn({ name: "deployment_id", foreignKeyConstraintName: "fk_training_alerts_deployment" })
  deployment?: Deployment;

  @PrimaryColumn({ type: "text", primaryKeyConstraintName: "pk_training_alerts" })
  kind: TrainingAlertKind;

  @Column("integer", { nullable: true })
  step: number | null;

  @Column("text")
  message: string;

  /** STOPPING when a health action stopped the run; null when only the owner was told. */
  @Column("text", { nullable: true })
  action: string | null;

  @Column({ type: "timestamptz", precision: 3, default: () => "now()" })
  createdAt: Date;
}
