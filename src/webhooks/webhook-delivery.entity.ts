import { Field, ID, Int, ObjectType } from "type-graphql";
import {
  Column,
  CreateDateColumn,
  Entity,
  Generated,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
} from "typeorm";
import { bigintNumberTransformer } from "../db/transformers";
import { Node } from "../relay/node.types";
import { WebhookOutboxRow } from "./webhook-outbox.entity";
import { Webhook } from "./webhook.entity";
import { WebhookEvent } from "./webhook.enums";

/** One attempt to deliver an event to a webhook: the delivery log. */
@ObjectType({ implements: Node, description: "one attempt to deliver an event to a webhook" })
@Entity("webhook_deliveries")
@Index("idx_webhook_deliveries_webhook_seq", ["webhookId", "seq"])
@Index("idx_webhook_deliveries_outbox", ["outboxId"])
export class WebhookDelivery {
  @Field(() => ID, { description: "the attempt's id" })
  @PrimaryGeneratedColumn("uuid", { primaryKeyConstraintName: "pk_webhook_deliveries" })
  id: string;

  /** Insertion order, for the log's cursor (ids are random, timestamps can tie). */
  @Column("bigint", { transformer: bigintNumberTransformer })
  @Generated("increment")
  seq: number;

  @Column("uuid")
  webhookId: string;

  @ManyToOne(() => Webhook, { onDelete: "CASCADE" })
  @JoinColumn({ name: "webhook_id", foreignKeyConstraintName: "fk_webhook_deliveries_webhook" })
  webhook?: Webhook;

  @Column("uuid")
  outboxId: string;

  @ManyToOne(() => WebhookOutboxRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "outbox_id", foreignKeyConstraintName: "fk_webhook_deliveries_outbox" })
  outbox?: WebhookOutboxRow;

  @Field(() => ID, { description: "the event's id, sent as X-TrainGate-Event-Id: the same on every attempt" })
  @Column("uuid")
  eventId: string;

  @Field(() => WebhookEvent, { description: "what the event was" })
  @Column("text")
  event: WebhookEvent;

  @Field(() => Int, { description: "1 for the first attempt, 2 for the first retry, …" })
  @Column("integer")
  attempt: number;

  @Field(() => Int, { description: "the endpoint's HTTP status; null when no answer came", nullable: true })
  @Column("integer", { nullable: true })
  statusCode: number | null;

  @Field(() => Int, {
    description: "milliseconds from the request to the answer (or the failure)",
    nullable: true,
  })
  @Column("integer", { nullable: true })
  latencyMs: number | null;

  @Field(() => String, {
    description: "why the attempt failed (refused address, timeout, non-2xx answer); null when it succeeded",
    nullable: true,
  })
  @Column("text", { nullable: true })
  error: string | null;

  @Field(() => String, {
    description: "the first bytes of the endpoint's answer (at most 4 KiB are read, 1 KiB kept)",
    nullable: true,
  })
  @Column("text", { nullable: true })
  responseExcerpt: string | null;

  @Field(() => Date, {
    description: "when the endpoint accepted it (a 2xx); null when it did not",
    nullable: true,
  })
  @Column({ type: "timestamptz", precision: 3, nullable: true })
  deliveredAt: Date | null;

  @Field(() => Date, {
    description: "when the next attempt is due; null when none will follow (delivered, or given up)",
    nullable: true,
  })
  @Column({ type: "timestamptz", precision: 3, nullable: true })
  nextAttemptAt: Date | null;

  @Field({ description: "when the attempt was made" })
  @CreateDateColumn({ type: "timestamptz", precision: 3 })
  createdAt: Date;
}
