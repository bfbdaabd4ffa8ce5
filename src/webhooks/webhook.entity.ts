import { Field, ID, ObjectType } from "type-graphql";
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
import { Node } from "../relay/node.types";
import { User } from "../users/user.entity";
import { WebhookEvent, WebhookFormat } from "./webhook.enums";

/** An endpoint a user registered; its signing secret is stored sealed and shown only at creation. */
@ObjectType({ implements: Node, description: "an HTTPS endpoint the gateway sends signed events to" })
@Entity("webhooks")
@Index("idx_webhooks_user_created", ["userId", "createdAt"])
export class Webhook {
  @Field(() => ID, { description: "the webhook's id" })
  @PrimaryGeneratedColumn("uuid", { primaryKeyConstraintName: "pk_webhooks" })
  id: string;

  @Column("text")
  userId: string;

  @ManyToOne(() => User, { onDelete: "CASCADE" })
  @JoinColumn({ name: "user_id", foreignKeyConstraintName: "fk_webhooks_user" })
  user?: User;

  @Field({ description: "where events are POSTed" })
  @Column("text")
  url: string;

  @Field(() => [WebhookEvent], { description: "the events it is sent" })
  @Column("text", { array: true })
  events: WebhookEvent[];

  @Field(() => WebhookFormat, { description: "the shape of the request body" })
  @Column("text")
  format: WebhookFormat;

  @Field(() => String, { description: "the caller's note about it", nullable: true })
  @Column("text", { nullable: true })
  description: string | null;

  @Field({
    description:
      "false once it was disabled after 3 days of failed deliveries; updateWebhook enables it again",
  })
  @Column("boolean", { default: true })
  enabled: boolean;

  /** The signing secret, sealed with the secret box (bound to the webhook's id). */
  @Column("text")
  secretCiphertext: string;

  @Column("text")
  secretKeyVersion: string;

  /** When deliveries started failing without a success since; null while the last one succeeded. */
  @Column({ type: "timestamptz", precision: 3, nullable: true })
  failingSince: Date | null;

  @Field(() => Date, {
    description: "when an attempt last reached the endpoint with a 2xx answer",
    nullable: true,
  })
  @Column({ type: "timestamptz", precision: 3, nullable: true })
  lastDeliveryAt: Date | null;

  @Field({ description: "when the webhook was created" })
  @CreateDateColumn({ type: "timestamptz", precision: 3 })
  createdAt: Date;

  @UpdateDateColumn({ type: "timestamptz", precision: 3 })
  updatedAt: Date;
}
