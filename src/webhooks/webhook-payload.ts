import { WebhookEvent, WebhookFormat } from "./webhook.enums";

/** The run an event is about, as it was when the event happened (USD as numbers). */
export interface WebhookRun {
  id: string;
  /** The training config's name. */
  name: string;
  status: string;
  costUsd: number;
  budgetLimitUsd: number;
  stopReason: string | null;
  errorMessage: string | null;
}

/** What an outbox row stores as the envelope's `data`: the run (when there is one) and the event's own fields. */
export interface WebhookPayload {
  deployment?: WebhookRun;
  [field: string]: unknown;
}

/** One event to render: its id, kind and time, and what was stored for it. */
export interface RenderedEvent {
  eventId: string;
  event: WebhookEvent;
  createdAt: Date;
  payload: WebhookPayload;
}

/**
 * The request body for `format`. JSON: the envelope `{ id, type, createdAt, data }`, where `data.deployment`
 * gains `dashboardUrl`. Slack (`{ text }`) and Discord (`{ content }`): one readable line naming the run, what
 * happened, its cost against its budget and a link to its page on the dashboard.
 */
export function renderBody(format: WebhookFormat, rendered: RenderedEvent, publicUrl: string): string {
  const dashboardUrl = rendered.payload.deployment
    ? `${publicUrl}/dashboard/deployments/${rendered.payload.deployment.id}`
    : `${publicUrl}/dashboard/`;
  switch (format) {
    case WebhookFormat.JSON: {
      const data = rendered.payload.deployment
        ? { ...rendered.payload, deployment: { ...rendered.payload.deployment, dashboardUrl } }
        : rendered.payload;
      return JSON.stringify({
        id: rendered.eventId,
        type: rendered.event,
        createdAt: rendered.createdAt.toISOString(),
        data,
      });
    }
    case WebhookFormat.SLACK:
      return JSON.stringify({ text: `${summaryLine(rendered)} <${dashboardUrl}|Open in TrainGate>` });
    case WebhookFormat.DISCORD:
      return JSON.stringify({ content: `${summaryLine(rendered)} [Open in TrainGate](<${dashboardUrl}>)` });
  }
}

/** "Run "llama-lora" completed: $0.42 of $5.00 budget." and the like. */
export function summaryLine({ event, payload }: RenderedEvent): string {
  const run = payload.deployment;
  const what = happened(event, payload);
  if (!run) return `TrainGate: ${what}.`;
  return `TrainGate: run "${run.name}" ${what}: ${usd(run.costUsd)} of ${usd(run.budgetLimitUsd)} budget.`;
}

function happened(event: WebhookEvent, payload: WebhookPayload): string {
  const run = payload.deployment;
  switch (event) {
    case WebhookEvent.DEPLOYMENT_CREATED:
      return "was created";
    case WebhookEvent.DEPLOYMENT_RUNNING:
      return "is running";
    case WebhookEvent.DEPLOYMENT_COMPLETED:
      return "completed";
    case WebhookEvent.DEPLOYMENT_FAILED:
      return run?.errorMessage ? `failed (${run.errorMessage})` : "failed";
    case WebhookEvent.DEPLOYMENT_STOPPED:
      return run?.stopReason ? `stopped (${run.stopReason})` : "stopped";
    case WebhookEvent.BUDGET_ALERT:
      return `reached ${String(payload.thresholdPercent)} % of its budget (${String(payload.action)})`;
    case WebhookEvent.TRAINING_ALERT:
      return `raised a training alert (${String(payload.kind)}: ${String(payload.message)})`;
    case WebhookEvent.ARTIFACT_READY:
      return "has its result ready to download";
    case WebhookEvent.WEBHOOK_DISABLED:
      return `the webhook ${(payload.webhook as { url: string }).url} was disabled after 3 days of failed deliveries`;
    case WebhookEvent.WEBHOOK_TEST:
      return "a test delivery; this webhook works";
  }
}

const usd = (value: number) => `$${value.toFixed(2)}`;
