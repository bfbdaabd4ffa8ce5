import { registerEnumType } from "type-graphql";

/** What a webhook is told about. The envelope's `type` is the value's name. */
export enum WebhookEvent {
  DEPLOYMENT_CREATED = "DEPLOYMENT_CREATED",
  DEPLOYMENT_RUNNING = "DEPLOYMENT_RUNNING",
  DEPLOYMENT_COMPLETED = "DEPLOYMENT_COMPLETED",
  DEPLOYMENT_FAILED = "DEPLOYMENT_FAILED",
  DEPLOYMENT_STOPPED = "DEPLOYMENT_STOPPED",
  BUDGET_ALERT = "BUDGET_ALERT",
  TRAINING_ALERT = "TRAINING_ALERT",
  ARTIFACT_READY = "ARTIFACT_READY",
  WEBHOOK_DISABLED = "WEBHOOK_DISABLED",
  WEBHOOK_TEST = "WEBHOOK_TEST",
}

/** How a delivery's body is shaped. */
export enum WebhookFormat {
  JSON = "JSON",
  SLACK = "SLACK",
  DISCORD = "DISCORD",
}

registerEnumType(WebhookEvent, {
  name: "WebhookEvent",
  description: "an event a webhook can be sent; the JSON envelope's `type`",
  valuesConfig: {
    DEPLOYMENT_CREATED: { description: "a deployment was created (before its pod is asked for)" },
    DEPLOYMENT_RUNNING: { description: "a deployment's pod is running the training" },
    DEPLOYMENT_COMPLETED: { description: "a deployment finished and its result was delivered" },
    DEPLOYMENT_FAILED: { description: "a deployment failed (the pod or the training)" },
    DEPLOYMENT_STOPPED: {
      description: "a deployment stopped before completing (the caller, its budget, its time)",
    },
    BUDGET_ALERT: {
      description: "a deployment crossed a budget threshold (50, 80, 90, 95 % or its stop at 100 %)",
    },
    TRAINING_ALERT: { description: "a training-health alert was raised for a deployment" },
    ARTIFACT_READY: { description: "a run's result was stored at the gateway and can be downloaded" },
    WEBHOOK_DISABLED: {
      description: "one of the caller's webhooks was disabled after 3 days of failed deliveries",
    },
    WEBHOOK_TEST: {
      description: "a test delivery (testWebhook); sent whatever the webhook's events, never retried",
    },
  },
});

registerEnumType(WebhookFormat, {
  name: "WebhookFormat",
  description: "the shape of a webhook's request body",
  valuesConfig: {
    JSON: { description: "the TrainGate envelope: { id, type, createdAt, data } (README, Webhooks)" },
    SLACK: {
      description: "a Slack incoming-webhook message ({ text }): one readable line with a dashboard link",
    },
    DISCORD: {
      description: "a Discord webhook message ({ content }): one readable line with a dashboard link",
    },
  },
});
