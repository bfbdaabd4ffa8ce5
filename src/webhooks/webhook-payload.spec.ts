import { renderBody, summaryLine, type RenderedEvent } from "./webhook-payload";
import { WebhookEvent, WebhookFormat } from "./webhook.enums";

const run = {
  id: "0b9c7c1e-5b1a-4c55-9d8e-1f2a3b4c5d6e",
  name: "llama lora",
  status: "STOPPED",
  costUsd: 0.4213,
  budgetLimitUsd: 5,
  stopReason: "BUDGET_EXCEEDED",
  errorMessage: null,
};
const event = (type: WebhookEvent, payload: RenderedEvent["payload"]): RenderedEvent => ({
  eventId: "e1",
  event: type,
  createdAt: new Date("2026-05-01T12:00:00Z"),
  payload,
});

describe("summaryLine", () => {
  it.each([
    [WebhookEvent.DEPLOYMENT_CREATED, {}, 'run "llama lora" was created: $0.42 of $5.00 budget.'],
    [
      WebhookEvent.DEPLOYMENT_STOPPED,
      {},
      'run "llama lora" stopped (BUDGET_EXCEEDED): $0.42 of $5.00 budget.',
    ],
    [
      WebhookEvent.BUDGET_ALERT,
      { thresholdPercent: 80, action: "NOTIFIED" },
      'run "llama lora" reached 80 % of its budget (NOTIFIED): $0.42 of $5.00 budget.',
    ],
    [
      WebhookEvent.TRAINING_ALERT,
      { kind: "LOSS_NAN", message: "loss is NaN at step 120" },
      'run "llama lora" raised a training alert (LOSS_NAN: loss is NaN at step 120): $0.42 of $5.00 budget.',
    ],
    [
      WebhookEvent.ARTIFACT_READY,
      {},
      'run "llama lora" has its result ready to download: $0.42 of $5.00 budget.',
    ],
  ])("%s", (type, extra, line) => {
    expect(summaryLine(event(type, { deployment: run, ...extra }))).toBe(`TrainGate: ${line}`);
  });

  it("names the webhook when one was disabled", () => {
    expect(summaryLine(event(WebhookEvent.WEBHOOK_DISABLED, { webhook: { url: "https://x.test/h" } }))).toBe(
      "TrainGate: the webhook https://x.test/h was disabled after 3 days of failed deliveries.",
    );
  });
});

describe("renderBody", () => {
  const rendered = event(WebhookEvent.DEPLOYMENT_STOPPED, { deployment: run });
  const page = `https://tg.example/dashboard/deployments/${run.id}`;

  it.each([
    [
      WebhookFormat.JSON,
      {
        id: "e1",
        type: "DEPLOYMENT_STOPPED",
        createdAt: "2026-05-01T12:00:00.000Z",
        data: { deployment: { ...run, dashboardUrl: page } },
      },
    ],
    [WebhookFormat.SLACK, { text: `${summaryLine(rendered)} <${page}|Open in TrainGate>` }],
    [WebhookFormat.DISCORD, { content: `${summaryLine(rendered)} [Open in TrainGate](<${page}>)` }],
  ])("%s", (format, body) => {
    expect(JSON.parse(renderBody(format, rendered, "https://tg.example"))).toEqual(body);
  });
});
