import { randomUUID } from "node:crypto";
import type { EntityManager } from "typeorm";
import { microsToUsd } from "../costs/money";
import { Deployment } from "../deployments/deployment.entity";
import { TrainingJob } from "../jobs/training-job.entity";
import { WebhookOutboxRow } from "./webhook-outbox.entity";
import type { WebhookPayload, WebhookRun } from "./webhook-payload";
import { Webhook } from "./webhook.entity";
import type { WebhookEvent } from "./webhook.enums";

/**
 * Records an event for every enabled webhook of `userId` that asked for it: one outbox row each, in `tx`, so the
 * event and its deliveries commit (or roll back) together; the delivery worker sends them after the commit.
 * `payload` is only made when some webhook wants the event. Answers the event's id, or undefined when no
 * webhook wanted it. Every event enters the outbox here (deployments, budget and training alerts, artifacts,
 * WEBHOOK_DISABLED); only testWebhook's one-off attempt is written by the service itself.
 */
export async function enqueueWebhookEvent(
  tx: EntityManager,
  userId: string,
  event: WebhookEvent,
  payload: () => Promise<WebhookPayload> | WebhookPayload,
): Promise<string | undefined> {
  const webhooks = await tx
    .getRepository(Webhook)
    .createQueryBuilder("w")
    .select("w.id")
    .where("w.user_id = :userId AND w.enabled AND :event = ANY(w.events)", { userId, event })
    .getMany();
  if (webhooks.length === 0) return undefined;
  const eventId = randomUUID();
  const data = await payload();
  const now = new Date();
  await tx.save(
    webhooks.map((webhook) =>
      tx.create(WebhookOutboxRow, {
        eventId,
        webhookId: webhook.id,
        event,
        payload: data,
        nextAttemptAt: now,
        createdAt: now,
      }),
    ),
  );
  return eventId;
}

/** The run a deployment event is about, read in `tx` (its job holds the config's name). */
export async function deploymentRun(
  tx: EntityManager,
  deployment: Deployment,
  job?: Pick<TrainingJob, "config">,
): Promise<WebhookRun> {
  const config = (job ?? (await tx.findOneOrFail(TrainingJob, { where: { id: deployment.jobId } }))).config;
  return {
    id: deployment.id,
    name: config.name,
    status: deployment.status,
    costUsd: microsToUsd(deployment.actualCostMicros),
    budgetLimitUsd: microsToUsd(deployment.budgetLimitMicros),
    stopReason: deployment.stopReason,
    errorMessage: deployment.errorMessage,
  };
}

/** The run of a job (a job has at most one deployment), for events that know only the job; undefined when none. */
export async function jobRun(tx: EntityManager, jobId: string): Promise<WebhookRun | undefined> {
  const deployment = await tx.findOne(Deployment, { where: { jobId } });
  return deployment ? deploymentRun(tx, deployment) : undefined;
}
