import { randomUUID } from "node:crypto";
import type { DataSource } from "typeorm";
import { isUuid } from "../db/ids";
import { connectionPage } from "../relay/connection-page";
import type { PageArguments } from "../relay/page-arguments";
import type { SecretBox } from "../secrets/secret-box";
import { resolvesRefused, urlProblem } from "./webhook-address";
import { secretContext, type WebhookDeliveryWorker } from "./webhook-delivery.worker";
import { WebhookDelivery } from "./webhook-delivery.entity";
import { WebhookOutboxRow } from "./webhook-outbox.entity";
import { newSigningSecret } from "./webhook-signature";
import { Webhook } from "./webhook.entity";
import { WebhookEvent, WebhookFormat } from "./webhook.enums";
import { webhookErrors } from "./webhook.errors";
import type { WebhookCreated, WebhookDeliveryConnection, WebhookInput } from "./webhook.types";

export interface WebhookRules {
  /** HTTPS only (NODE_ENV=production). */
  production: boolean;
  /** `WEBHOOK_ALLOW_PRIVATE`: loopback and private addresses allowed. */
  allowPrivate: boolean;
  /** How long an attempt is leased (the worker's `leaseMs`). */
  leaseMs: number;
}

/** Webhooks a user may have. */
export const MAX_WEBHOOKS_PER_USER = 20;
/** A user's webhooks: registration (the secret shown once), changes, the delivery log and test deliveries. */
export class WebhookService {
  constructor(
    private readonly db: DataSource,
    private readonly box: SecretBox,
    private readonly worker: WebhookDeliveryWorker,
    private readonly rules: WebhookRules,
  ) {}

  list(userId: string): Promise<Webhook[]> {
    return this.db.getRepository(Webhook).find({ where: { userId }, order: { createdAt: "ASC", id: "ASC" } });
  }

  async create(userId: string, input: WebhookInput): Promise<WebhookCreated> {
    await this.check(input);
    const count = await this.db.getRepository(Webhook).countBy({ userId });
    if (count >= MAX_WEBHOOKS_PER_USER)
      throw webhookErrors.badInput("input", `at most ${MAX_WEBHOOKS_PER_USER} webhooks per user`);
    const id = randomUUID();
    const signingSecret = newSigningSecret();
    const sealed = this.box.seal(signingSecret, secretContext(id));
    const webhook = await this.db.getRepository(Webhook).save({
      id,
      userId,
      ...fieldsOf(input),
      enabled: true,
      secretCiphertext: sealed.ciphertext,
      secretKeyVersion: sealed.keyVersion,
      failingSince: null,
      lastDeliveryAt: null,
    });
    return { webhook: await this.get(userId, webhook.id), signingSecret };
  }

  /** Replaces the webhook's settings (the secret stays) and enables it again with a clean failure record. */
  async update(userId: string, id: string, input: WebhookInput): Promise<Webhook> {
    await this.get(userId, id);
    await this.check(input);
    await this.db
      .getRepository(Webhook)
      .update({ id, userId }, { ...fieldsOf(input), enabled: true, failingSince: null });
    return this.get(userId, id);
  }

  /** Deletes it with its pending deliveries and log; false when the caller has no such webhook. */
  async delete(userId: string, id: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    const result = await this.db.getRepository(Webhook).delete({ id, userId });
    return (result.affected ?? 0) > 0;
  }

  /** Sends a WEBHOOK_TEST event now, once, and answers the attempt (also in the log). */
  async test(userId: string, id: string): Promise<WebhookDelivery> {
    const webhook = await this.get(userId, id);
    const now = new Date();
    const row = await this.db.getRepository(WebhookOutboxRow).save({
      eventId: randomUUID(),
      webhookId: webhook.id,
      event: WebhookEvent.WEBHOOK_TEST,
      payload: { webhook: { id: webhook.id, url: webhook.url } },
      // Claimed at creation: the worker never picks it up.
      attempts: 1,
      nextAttemptAt: now,
      lockedUntil: new Date(now.getTime() + this.rules.leaseMs),
      createdAt: now,
    });
    return this.worker.attempt(row);
  }

  /** The webhook's attempts, newest first, a Relay connection (forward and backward) over their sequence. */
  async deliveries(
    userId: string,
    webhookId: string,
    page: PageArguments,
  ): Promise<WebhookDeliveryConnection> {
    const after = page.after ? decodeSeq(page.after, "after") : undefined;
    const before = page.before ? decodeSeq(page.before, "before") : undefined;
    await this.get(userId, webhookId);
    const logged = () =>
      this.db
        .getRepository(WebhookDelivery)
        .createQueryBuilder("d")
        .where("d.webhook_id = :webhookId", { webhookId });
    return connectionPage<WebhookDelivery>(page, {
      // Between the cursors: older than `after`, newer than `before`.
      window: (direction, limit) => {
        const query = logged();
        if (after !== undefined) query.andWhere("d.seq < :after", { after });
        if (before !== undefined) query.andWhere("d.seq > :before", { before });
        return query
          .orderBy("d.seq", direction === "forward" ? "DESC" : "ASC")
          .take(limit)
          .getMany();
      },
      existsBeyond: (side) =>
        (side === "previous"
          ? logged().andWhere("d.seq >= :after", { after })
          : logged().andWhere("d.seq <= :before", { before })
        ).getExists(),
      cursor: (delivery) => encodeSeq(delivery.seq),
    });
  }

  private async get(userId: string, id: string): Promise<Webhook> {
    const webhook = isUuid(id) ? await this.db.getRepository(Webhook).findOneBy({ id, userId }) : null;
    if (!webhook) throw webhookErrors.notFound();
    return webhook;
  }

  /** The URL's form, and where it resolves to now (again at every connection: see the sender). */
  private async check(input: WebhookInput): Promise<void> {
    const problem = urlProblem(input.url, this.rules.production);
    if (problem) throw webhookErrors.badInput("input.url", problem);
    if (input.events.includes(WebhookEvent.WEBHOOK_TEST))
      throw webhookErrors.badInput("input.events", "WEBHOOK_TEST is sent by testWebhook only");
    if (this.rules.allowPrivate) return;
    const refused = await resolvesRefused(new URL(input.url));
    if (refused) throw webhookErrors.badInput("input.url", `refused: ${refused}`);
  }
}

function fieldsOf(input: WebhookInput): Pick<Webhook, "url" | "events" | "format" | "description"> {
  return {
    url: input.url,
    events: input.events,
    format: input.format ?? WebhookFormat.JSON,
    description: input.description ?? null,
  };
}

const encodeSeq = (seq: number): string => Buffer.from(`delivery:${seq}`).toString("base64url");

function decodeSeq(cursor: string, argument: "after" | "before"): number {
  const match = /^delivery:(\d{1,15})$/.exec(Buffer.from(cursor, "base64url").toString("utf8"));
  if (!match) throw webhookErrors.badInput(argument, "is not a cursor this API returned");
  return Number(match[1]);
}
