import { GraphQLJSONObject } from "graphql-scalars";
import { Field, ID, ObjectType } from "type-graphql";
import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from "typeorm";
import { Deployment } from "./deployment.entity";
import { Node } from "../relay/node.types";

/** The audit trail of a deployment: state changes, upstream call outcomes, budget actions. */
@ObjectType({ implements: Node, description: "one entry of a deployment's audit trail" })
@Entity("deployment_events")
@Index("idx_deployment_events_deployment", ["deploymentId", "id"])
export class DeploymentEvent {
  @Field(() => ID, { description: "the event's id" })
  @PrimaryGeneratedColumn({ type: "bigint", primaryKeyConstraintName: "pk_deployment_events" }) // int8 arrives as a string from both drivers
  id: string;

  @Column("uuid")
  deploymentId: string;

  @ManyToOne(() => Deployment, { onDelete: "CASCADE" })
  @JoinColumn({ name: "deployment_id", foreignKeyConstraintName: "fk_deployment_events_deployment" })
  deployment?: Deployment;

  @Field({ description: "what happened, e.g. pod.created, status.changed, budget.alert" })
  @Column("text")
  kind: string;

  @Field(() => GraphQLJSONObject, { description: "the event's data; its keys depend on kind" })
  @Column("jsonb")
  detail: Record<string, unknown>;

  @Field({ description: "when it happened", name: "at" })
  @Column({ type: "timestamptz", precision: 3, default: () => "now()" })
  createdAt: Date;
}
