import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
} from "typeorm";
import type { WebhookPayload } from "./webhook-payload";
import { Webhook } from "./webhook.entity";
import { WebhookEvent } from "./webhook.enums";

/** How an outbox row ended. */
export enum OutboxOutcome {
  DELIVERED = "DELIVERED",
  /** Still failing 24 hours after the event (or a test delivery's one attempt failed). */
  GAVE_UP = "GAVE_UP",
  /** Its webhook was disabled or changed its events before it could be delivered. */
  CANCELLED = "CANCELLED",
}

/**
 * One event owed to one webhook: written in the transaction that made the event, delivered at least once by
 * the delivery worker. A row is pending while `finishedAt` is null; `lockedUntil` is the lease of the attempt
 * in flight, so two replicas never send the same attempt.
 */
@Entity("webhook_outbox")
@Index("idx_webhook_outbox_due", ["nextAttemptAt"], { where: "finished_at IS NULL" })
@Index("idx_webhook_outbox_webhook", ["webhookId"])
export class WebhookOutboxRow {
  @PrimaryGeneratedColumn("uuid", { primaryKeyConstraintName: "pk_webhook_outbox" })
  id: string;

  /** The event's id (`X-TrainGate-Event-Id`): the same for every webhook told of the event, and every attempt. */
  @Column("uuid")
  eventId: string;

  @Column("uuid")
  webhookId: string;

  @ManyToOne(() => Webhook, { onDelete: "CASCADE" })
  @JoinColumn({ name: "webhook_id", foreignKeyConstraintName: "fk_webhook_outbox_webhook" })
  webhook?: Webhook;

  @Column("text")
  event: WebhookEvent;

  /** The envelope's `data`, as made when the event happened. */
  @Column("jsonb")
  payload: WebhookPayload;

  /** Attempts made (claimed) so far. */
  @Column("integer", { default: 0 })
  attempts: number;

  @Column({ type: "timestamptz", precision: 3 })
  nextAttemptAt: Date;

  @Column({ type: "timestamptz", precision: 3, nullable: true })
  lockedUntil: Date | null;

  @Column({ type: "timestamptz", precision: 3, nullable: true })
  finishedAt: Date | null;

  @Column("text", { nullable: true })
  outcome: OutboxOutcome | null;

  @CreateDateColumn({ type: "timestamptz", precision: 3 })
  createdAt: Date;
}
