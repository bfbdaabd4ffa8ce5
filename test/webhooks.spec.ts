import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import os from "node:os";
import path from "node:path";
import { verifyWebhook } from "../client-examples/verify-webhook";
import { startRunpodSimulator, type RunpodSimulator } from "../src/runpod-sim/runpod-simulator";
import { enqueueWebhookEvent } from "../src/webhooks/webhook-outbox";
import { WebhookEvent } from "../src/webhooks/webhook.enums";
import type { WebhookTuning } from "../src/webhooks/webhooks.module";
import { freshDatabase, usingPostgres } from "./support/database";
import { deferred, eventually, untilLine } from "./support/eventually";
import { startTestGateway, TEST_ENCRYPTION_KEY, TEST_JWT_SECRET, type TestGateway } from "./support/gateway";
import { freePort } from "./support/simulated";

/**
 * Webhooks end to end: real gateways, the RunPod simulator upstream, and real HTTP receivers on random ports.
 * Retries are shortened through the gateway's webhook tuning (100 ms doubling instead of 30 s doubling).
 */
const FAST: WebhookTuning = { pollIntervalMs: 50, retry: { firstDelayMs: 100, maxDelayMs: 400 } };
const ALL_RUN_EVENTS = [
  "DEPLOYMENT_CREATED",
  "DEPLOYMENT_RUNNING",
  "DEPLOYMENT_COMPLETED",
  "DEPLOYMENT_FAILED",
  "DEPLOYMENT_STOPPED",
  "BUDGET_ALERT",
  "ARTIFACT_READY",
];

const CREATE = `mutation($input: WebhookInput!) {
  createWebhook(input: $input) { signingSecret webhook { id url events format enabled createdAt } } }`;
const DELIVERIES = `query($id: ID!, $first: Int, $after: String) {
  webhookDeliveries(webhookId: $id, first: $first, after: $after) {
    edges { cursor node { eventId event attempt statusCode latencyMs error responseExcerpt deliveredAt nextAttemptAt } }
    pageInfo { hasNextPage endCursor } } }`;

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
  status: number;
}

interface Delivery {
  eventId: string;
  event: string;
  attempt: number;
  statusCode: number | null;
  latencyMs: number | null;
  error: string | null;
  responseExcerpt: string | null;
  deliveredAt: string | null;
  nextAttemptAt: string | null;
}

/**
 * An HTTP endpoint on a random port that records every request. `answer` decides the status from the request
 * and how many requests of its event came before it; null never answers (the connection hangs).
 */
class Receiver {
  readonly received: Received[] = [];
  private readonly listeners: (() => void)[] = [];
  private server!: Server;
  url = "";

  constructor(private readonly answer: (eventId: string, before: number) => number | null = () => 200) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const eventId = String(req.headers["x-traingate-event-id"]);
        const status = this.answer(eventId, this.of(eventId).length);
        this.received.push({
          headers: req.headers,
          body: Buffer.concat(chunks).toString("utf8"),
          at: Date.now(),
          status: status ?? 0,
        });
        for (const listener of this.listeners.splice(0)) listener();
        if (status !== null) res.writeHead(status, { "content-type": "text/plain" }).end(`answer ${status}`);
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}/hook`;
    return this;
  }

  of(eventId: string): Received[] {
    return this.received.filter((r) => r.headers["x-traingate-event-id"] === eventId);
  }

  types(): string[] {
    return this.received.map((r) => String(r.headers["x-traingate-event"]));
  }

  /** Resolves once `predicate` holds over what was received (checked on every request). */
  async until(predicate: (received: Received[]) => boolean, what: string, timeoutMs = 20_000): Promise<void> {
    const wait = deferred(what, timeoutMs, () => `received: ${this.types().join(", ")}`);
    const check = () => {
      if (predicate(this.received)) wait.resolve();
      else this.listeners.push(check);
    };
    check();
    await wait.promise;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const receivers: Receiver[] = [];
async function receiver(answer?: (eventId: string, before: number) => number | null): Promise<Receiver> {
  const started = await new Receiver(answer).start();
  receivers.push(started);
  return started;
}
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

async function createWebhook(
  t: TestGateway | string,
  user: string,
  input: Record<string, unknown>,
): Promise<{ id: string; secret: string }> {
  const res =
    typeof t === "string"
      ? await gqlAt<{ createWebhook: { signingSecret: string; webhook: { id: string } } }>(t, user, CREATE, {
          input,
        })
      : await t.gql<{ createWebhook: { signingSecret: string; webhook: { id: string } } }>(user, CREATE, {
          input,
        });
  if (!res.data) throw new Error(JSON.stringify(res.errors));
  return { id: res.data.createWebhook.webhook.id, secret: res.data.createWebhook.signingSecret };
}

async function deliveries(t: TestGateway, user: string, webhookId: string): Promise<Delivery[]> {
  const res = await t.gql<{ webhookDeliveries: { edges: { node: Delivery }[] } }>(user, DELIVERIES, {
    id: webhookId,
    first: 100,
  });
  if (!res.data) throw new Error(JSON.stringify(res.errors));
  return res.data.webhookDeliveries.edges.map((e) => e.node);
}

async function gqlAt<T>(url: string, user: string, query: string, variables?: unknown) {
  const { signDevToken } = await import("../src/auth/jwt");
  const response = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${await signDevToken(TEST_JWT_SECRET, user, 3600)}`,
    },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data?: T; errors?: unknown[] };
}

/** Stores a simulator key and a config for `user`, and deploys it; answers the deployment's id. */
async function deploy(url: string, user: string, apiKey: string, name: string): Promise<string> {
  const secret = await gqlAt(
    url,
    user,
    `mutation($k: String!) { setProviderSecret(input: { provider: RUNPOD, apiKey: $k }) { last4 } }`,
    { k: apiKey },
  );
  if (secret.errors) throw new Error(JSON.stringify(secret.errors));
  const config = await gqlAt<{ createTrainingConfig: { id: string } }>(
    url,
    user,
    `mutation($input: TrainingConfigInput!) { createTrainingConfig(input: $input) { id } }`,
    {
      input: {
        name,
        modelName: "TinyLlama/TinyLlama-1.1B-Chat-v1.0",
        datasetUrl: "https://example.com/alpaca.jsonl",
        hyperparameters: { epochs: 1, loggingSteps: 5 },
      },
    },
  );
  if (!config.data) throw new Error(JSON.stringify(config.errors));
  const deployed = await gqlAt<{ deployTraining: { id: string } }>(
    url,
    user,
    `mutation($input: DeployTrainingInput!) { deployTraining(input: $input) { id } }`,
    {
      input: {
        trainingConfigId: config.data.createTrainingConfig.id,
        gpuType: "RTX_A4000",
        budgetLimitUsd: 1,
      },
    },
  );
  if (!deployed.data) throw new Error(JSON.stringify(deployed.errors));
  return deployed.data.deployTraining.id;
}

describe("a run's events, delivered to a JSON and a Slack receiver", () => {
  let t: TestGateway;
  beforeAll(async () => {
    const port = await freePort();
    t = await startTestGateway({
      env: {
        RUNPOD_SIMULATOR: "true",
        RUNPOD_SIMULATOR_SPEED: "50",
        PORT: String(port),
        PUBLIC_URL: `http://127.0.0.1:${port}`,
        SYNC_INTERVAL_MS: "500",
        WATCHDOG_INTERVAL_MS: "500",
        WEBHOOK_ALLOW_PRIVATE: "true",
      },
      gatewayOptions: { background: true, simulator: { trainer: { stepsPerEpoch: 40 } }, webhooks: FAST },
      port,
    });
  }, 60_000);
  afterAll(() => t.close());

  it("sends each event once per event id, signed, in the JSON envelope and as a Slack line", async () => {
    const json = await receiver();
    const slack = await receiver();
    const jsonHook = await createWebhook(t, "wh-run", { url: json.url, events: ALL_RUN_EVENTS });
    const slackHook = await createWebhook(t, "wh-run", {
      url: slack.url,
      events: ALL_RUN_EVENTS,
      format: "SLACK",
    });
    expect(jsonHook.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    const id = await deploy(t.url, "wh-run", "sim_webhooks_0001", "llama on alpaca");

    const done = (r: Received[]) =>
      ["DEPLOYMENT_COMPLETED", "ARTIFACT_READY"].every((type) =>
        r.some((x) => x.headers["x-traingate-event"] === type),
      );
    await json.until(done, "the run's completion at the JSON receiver", 40_000);
    await slack.until(done, "the run's completion at the Slack receiver", 20_000);

    for (const [r, hook] of [
      [json, jsonHook],
      [slack, slackHook],
    ] as const) {
      // Once per event id, every request signed with this webhook's secret (and verified by the example).
      const ids = r.received.map((x) => String(x.headers["x-traingate-event-id"]));
      expect(new Set(ids).size).toBe(ids.length);
      for (const x of r.received)
        expect(verifyWebhook(hook.secret, x.body, x.headers["x-traingate-signature"] as string)).toBe(true);
      expect(
        verifyWebhook(
          hook.secret,
          `${r.received[0].body} `,
          r.received[0].headers["x-traingate-signature"] as string,
        ),
      ).toBe(false);
      expect(r.types().slice(0, 2)).toEqual(["DEPLOYMENT_CREATED", "DEPLOYMENT_RUNNING"]);
      expect(r.types()).toContain("DEPLOYMENT_COMPLETED");
    }
    // The same event has the same id at both receivers.
    expect(slack.received.map((x) => x.headers["x-traingate-event-id"]).sort()).toEqual(
      json.received.map((x) => x.headers["x-traingate-event-id"]).sort(),
    );

    const completed = json.received.find((x) => x.headers["x-traingate-event"] === "DEPLOYMENT_COMPLETED")!;
    const envelope = JSON.parse(completed.body) as Record<string, unknown>;
    expect(envelope).toEqual({
      id: completed.headers["x-traingate-event-id"],
      type: "DEPLOYMENT_COMPLETED",
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      data: {
        deployment: {
          id,
          name: "llama on alpaca",
          status: "COMPLETED",
          costUsd: expect.any(Number),
          budgetLimitUsd: 1,
          stopReason: "COMPLETED",
          errorMessage: null,
          dashboardUrl: `${t.url}/dashboard/deployments/${id}`,
        },
      },
    });
    const line = (
      JSON.parse(
        slack.received.find((x) => x.headers["x-traingate-event"] === "DEPLOYMENT_COMPLETED")!.body,
      ) as { text: string }
    ).text;
    expect(line).toMatch(
      new RegExp(
        `^TrainGate: run "llama on alpaca" completed: \\$\\d+\\.\\d\\d of \\$1\\.00 budget\\. <${t.url}/dashboard/deployments/${id}\\|Open in TrainGate>$`,
      ),
    );

    // The log: one successful first attempt per event, with what the endpoint answered.
    const log = await deliveries(t, "wh-run", jsonHook.id);
    expect(log).toHaveLength(json.received.length);
    for (const entry of log)
      expect(entry).toMatchObject({
        attempt: 1,
        statusCode: 200,
        error: null,
        nextAttemptAt: null,
        responseExcerpt: "answer 200",
      });
    expect(log.every((entry) => entry.deliveredAt !== null && entry.latencyMs !== null)).toBe(true);
    // The secret was shown once and never logged.
    expect(t.logs.text).not.toContain(jsonHook.secret);
    const listed = await t.gql<{ webhooks: Record<string, unknown>[] }>(
      "wh-run",
      `{ webhooks { id url format enabled lastDeliveryAt } }`,
    );
    expect(listed.data?.webhooks).toEqual([
      expect.objectContaining({
        id: jsonHook.id,
        format: "JSON",
        enabled: true,
        lastDeliveryAt: expect.any(String),
      }),
      expect.objectContaining({ id: slackHook.id, format: "SLACK", enabled: true }),
    ]);
    expect(JSON.stringify(listed)).not.toContain("whsec_");
  }, 90_000);

  it("retries a receiver that fails 3 times with growing delays, and it gets the event on the 4th attempt", async () => {
    const flaky = await receiver((_, before) => (before < 3 ? 503 : 200));
    const hook = await createWebhook(t, "wh-flaky", { url: flaky.url, events: ["DEPLOYMENT_CREATED"] });
    await deploy(t.url, "wh-flaky", "sim_webhooks_0002", "flaky");
    await flaky.until((r) => r.length === 4, "the 4th attempt");
    const eventId = String(flaky.received[0].headers["x-traingate-event-id"]);
    expect(flaky.of(eventId).map((r) => r.status)).toEqual([503, 503, 503, 200]);
    // Backoff: each wait is at least half its step (100, 200, 400 ms).
    const gaps = flaky.received.slice(1).map((r, i) => r.at - flaky.received[i].at);
    expect(gaps[0]).toBeGreaterThanOrEqual(45);
    expect(gaps[1]).toBeGreaterThanOrEqual(95);
    expect(gaps[2]).toBeGreaterThanOrEqual(195);
    const log = await eventually(async () => {
      const entries = await deliveries(t, "wh-flaky", hook.id);
      return entries.length === 4 && entries;
    }, "the 4th attempt in the log");
    expect(
      log.map((e) => [e.attempt, e.statusCode, e.deliveredAt !== null, e.nextAttemptAt !== null]),
    ).toEqual([
      [4, 200, true, false],
      [3, 503, false, true],
      [2, 503, false, true],
      [1, 503, false, true],
    ]);
    expect(log[3].error).toBe("the endpoint answered 503");
    expect(new Set(log.map((e) => e.eventId))).toEqual(new Set([eventId]));
    // Paged: two at a time, newest first.
    const page = await t.gql<{
      webhookDeliveries: {
        edges: { cursor: string; node: Delivery }[];
        pageInfo: { hasNextPage: boolean; endCursor: string };
      };
    }>("wh-flaky", DELIVERIES, { id: hook.id, first: 2 });
    const next = await t.gql<{
      webhookDeliveries: { edges: { node: Delivery }[]; pageInfo: { hasNextPage: boolean } };
    }>("wh-flaky", DELIVERIES, {
      id: hook.id,
      first: 2,
      after: page.data!.webhookDeliveries.pageInfo.endCursor,
    });
    expect(page.data!.webhookDeliveries.edges.map((e) => e.node.attempt)).toEqual([4, 3]);
    expect(page.data!.webhookDeliveries.pageInfo.hasNextPage).toBe(true);
    expect(next.data!.webhookDeliveries.edges.map((e) => e.node.attempt)).toEqual([2, 1]);
    expect(next.data!.webhookDeliveries.pageInfo.hasNextPage).toBe(false);
  }, 60_000);
});
