import type { Logger } from "pino";
import { In, type DataSource, type EntityManager } from "typeorm";
import type { SecretBox } from "../secrets/secret-box";
import { enqueueWebhookEvent } from "./webhook-outbox";
import { OutboxOutcome, WebhookOutboxRow } from "./webhook-outbox.entity";
import { WebhookDelivery } from "./webhook-delivery.entity";
import { renderBody } from "./webhook-payload";
import { nextAttemptAt, type RetrySchedule } from "./webhook-retry";
import { sendWebhook, type SendLimits, type SendResult } from "./webhook-sender";
import { EVENT_ID_HEADER, signatureHeader, SIGNATURE_HEADER } from "./webhook-signature";
import { Webhook } from "./webhook.entity";
import { WebhookEvent } from "./webhook.enums";

export interface DeliveryOptions {
  retry: RetrySchedule;
  send: SendLimits;
  /** A webhook failing without a success for this long is disabled (3 days). */
  disableAfterMs: number;
  /** How long a claimed attempt is leased to its replica; past it (a crash mid-send) it is claimed again. */
  leaseMs: number;
  /** Rows claimed per pass, sent concurrently. */
  batchSize: number;
  /** The dashboard links' base (PUBLIC_URL). */
  publicUrl: string;
}

/** The part of a response the log keeps. */
const EXCERPT_CHARS = 1_024;

/** The signing secret's associated data: a ciphertext copied to another webhook's row does not open. */
export const secretContext = (webhookId: string): string => `webhook:${webhookId}`;

/**
 * Sends what the outbox owes. Each pass claims due rows with one statement (`FOR UPDATE SKIP LOCKED`, then a
 * lease in `locked_until`), so replicas running it at once never claim the same row, and a row is claimed again
 * only once its lease has run out. Every attempt is logged; a failed one is scheduled again with backoff until
 * the give-up time, and a webhook failing for `disableAfterMs` is disabled with a WEBHOOK_DISABLED event.
 */
export class WebhookDeliveryWorker {
  constructor(
    private readonly db: DataSource,
    private readonly box: SecretBox,
    private readonly logger: Logger,
    private readonly options: DeliveryOptions,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** One pass: claims what is due and attempts it. Answers how many attempts were made. */
  async deliverDue(): Promise<{ attempts: number }> {
    const claimed = await this.claim();
    // One attempt failing to be recorded does not stop the others; its lease runs out and it is made again.
    const outcomes = await Promise.allSettled(claimed.map((row) => this.attempt(row)));
    for (const outcome of outcomes)
      if (outcome.status === "rejected")
        this.logger.warn({ err: (outcome.reason as Error).message }, "a webhook attempt was not recorded");
    return { attempts: claimed.length };
  }

  /** Makes one attempt of a claimed row, logs it and schedules what follows. Answers the log entry. */
  async attempt(row: WebhookOutboxRow): Promise<WebhookDelivery> {
    const webhook = await this.db.getRepository(Webhook).findOneBy({ id: row.webhookId });
    let result: SendResult;
    try {
      result = webhook ? await this.send(webhook, row) : failure("the webhook was deleted");
    } catch (error) {
      // A secret that no configured key opens, a URL that no longer parses: a failed attempt like any other,
      // so it is retried, logged and, in time, given up.
      this.logger.warn({ webhookId: row.webhookId, err: (error as Error).message }, "webhook attempt failed");
      result = failure("the attempt could not be made (see the gateway's log)");
    }
    return this.db.transaction((tx) => this.record(tx, row, webhook, result));
  }

  private async claim(): Promise<WebhookOutboxRow[]> {
    const now = this.now();
    // Wrapped in a SELECT: the driver answers an UPDATE's rows as [rows, count].
    const ids = await this.db.query<{ id: string }[]>(
      `WITH claimed AS (
         UPDATE webhook_outbox o SET attempts = o.attempts + 1, locked_until = $2
         WHERE o.id IN (
           SELECT id FROM webhook_outbox
           WHERE finished_at IS NULL AND next_attempt_at <= $1 AND (locked_until IS NULL OR locked_until <= $1)
           ORDER BY next_attempt_at LIMIT $3
           FOR UPDATE SKIP LOCKED)
         RETURNING o.id)
       SELECT id FROM claimed`,
      [now, new Date(now.getTime() + this.options.leaseMs), this.options.batchSize],
    );
    if (ids.length === 0) return [];
    return this.db.getRepository(WebhookOutboxRow).findBy({ id: In(ids.map((row) => row.id)) });
  }

  private async send(webhook: Webhook, row: WebhookOutboxRow): Promise<SendResult> {
    const body = renderBody(
      webhook.format,
      { eventId: row.eventId, event: row.event, createdAt: row.createdAt, payload: row.payload },
      this.options.publicUrl,
    );
    const secret = await this.signingSecret(webhook);
    const result = await sendWebhook(
      webhook.url,
      {
        "user-agent": "TrainGate-Webhooks/1",
        [SIGNATURE_HEADER]: signatureHeader(secret, body, Math.floor(this.now().getTime() / 1000)),
        [EVENT_ID_HEADER]: row.eventId,
        "X-TrainGate-Event": row.event,
      },
      body,
      this.options.send,
    );
    if (result.error)
      this.logger.info(
        { webhookId: webhook.id, eventId: row.eventId, attempt: row.attempts, err: result.error },
        "webhook delivery failed",
      );
    return result;
  }

  /** The webhook's secret; one sealed under an older key is sealed again under the current one (a rotation). */
  private async signingSecret(webhook: Webhook): Promise<string> {
    const context = secretContext(webhook.id);
    const secret = this.box.open(
      { ciphertext: webhook.secretCiphertext, keyVersion: webhook.secretKeyVersion },
      context,
    );
    if (this.box.isStale(webhook.secretKeyVersion)) {
      const sealed = this.box.seal(secret, context);
      await this.db
        .getRepository(Webhook)
        .update(
          { id: webhook.id, secretKeyVersion: webhook.secretKeyVersion },
          { secretCiphertext: sealed.ciphertext, secretKeyVersion: sealed.keyVersion },
        );
    }
    return secret;
  }

  private async record(
    tx: EntityManager,
    row: WebhookOutboxRow,
    webhook: Webhook | null,
    result: SendResult,
  ): Promise<WebhookDelivery> {
    const now = this.now();
    const delivered = result.error === null;
    // A test delivery is made once and says nothing of the webhook's health; an event is retried until the
    // give-up time, unless this failure disabled the webhook (which cancelled its pending rows, this one too).
    const counted = webhook !== null && row.event !== WebhookEvent.WEBHOOK_TEST;
    const disabled = counted ? await this.follow(tx, webhook, delivered, now) : false;
    const next =
      delivered || !counted || disabled
        ? null
        : nextAttemptAt(row.attempts, row.createdAt, now, this.options.retry);
    const delivery = await tx.save(
      tx.create(WebhookDelivery, {
        webhookId: row.webhookId,
        outboxId: row.id,
        eventId: row.eventId,
        event: row.event,
        attempt: row.attempts,
        statusCode: result.statusCode,
        latencyMs: result.latencyMs,
        error: result.error,
        responseExcerpt: result.responseExcerpt?.slice(0, EXCERPT_CHARS) ?? null,
        deliveredAt: delivered ? now : null,
        nextAttemptAt: next,
      }),
    );
    if (disabled) return delivery;
    // Only while the claim is still ours (its lease not taken over after a stall).
    await tx.update(
      WebhookOutboxRow,
      { id: row.id, attempts: row.attempts },
      next
        ? { nextAttemptAt: next, lockedUntil: null }
        : {
            lockedUntil: null,
            finishedAt: now,
            outcome: delivered ? OutboxOutcome.DELIVERED : OutboxOutcome.GAVE_UP,
          },
    );
    return delivery;
  }

  /**
   * The webhook's health: a success clears its failing streak; a streak of `disableAfterMs` disables it. True
   * when this call disabled it.
   */
  private async follow(tx: EntityManager, webhook: Webhook, delivered: boolean, now: Date): Promise<boolean> {
    if (delivered) {
      await tx.update(Webhook, { id: webhook.id }, { lastDeliveryAt: now, failingSince: null });
      return false;
    }
    const failingSince = webhook.failingSince ?? now;
    if (webhook.failingSince === null) await tx.update(Webhook, { id: webhook.id }, { failingSince });
    if (!webhook.enabled || now.getTime() - failingSince.getTime() < this.options.disableAfterMs)
      return false;
    const disabled = await tx
      .createQueryBuilder()
      .update(Webhook)
      .set({ enabled: false })
      .where("id = :id AND enabled", { id: webhook.id })
      .execute();
    if (!disabled.affected) return false;
    await tx
      .createQueryBuilder()
      .update(WebhookOutboxRow)
      .set({ finishedAt: now, outcome: OutboxOutcome.CANCELLED, lockedUntil: null })
      .where("webhook_id = :id AND finished_at IS NULL", { id: webhook.id })
      .execute();
    this.logger.warn({ webhookId: webhook.id, failingSince }, "webhook disabled after failing deliveries");
    await enqueueWebhookEvent(tx, webhook.userId, WebhookEvent.WEBHOOK_DISABLED, () => ({
      webhook: { id: webhook.id, url: webhook.url, failingSince: failingSince.toISOString() },
    }));
    return true;
  }
}

const failure = (error: string): SendResult => ({
  statusCode: null,
  latencyMs: 0,
  error,
  responseExcerpt: null,
});
