import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from "typeorm";
import type { Micros } from "../costs/money";
import { microsTransformer } from "../db/transformers";
import { Deployment } from "../deployments/deployment.entity";

/**
 * A budget threshold crossing. The primary key makes each threshold fire at most once per deployment, whichever
 * replica sees it first.
 */
@Entity("budget_alerts")
export class BudgetAlertRecord {
  @PrimaryColumn({ type: "uuid", primaryKeyConstraintName: "pk_budget_alerts" })
  deploymentId: string;

  @ManyToOne(() => Deployment, { onDelete: "CASCADE" })
  @JoinColumn({ name: "deployment_id", foreignKeyConstraintName: "fk_budget_alerts_deployment" })
  deployment?: Deployment;

  @PrimaryColumn({ type: "integer", primaryKeyConstraintName: "pk_budget_alerts" })
  thresholdPercent: number;

  @Column("text")
  action: string;

  @Column("numeric", { name: "actual_cost", precision: 14, scale: 6, transformer: microsTransformer })
  actualCostMicros: Micros;

  @Column({ type: "timestamptz", precision: 3, default: () => "now()" })
  createdAt: Date;
}
