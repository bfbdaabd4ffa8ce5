import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import os from "node:os";
import path from "node:path";
import { verifyWebhook } from "../client-examples/verify-webhook";
import { signDevToken } from "../src/auth/jwt";
import { startRunpodSimulator, type RunpodSimulator } from "../src/runpod-sim/runpod-simulator";
import { enqueueWebhookEvent } from "../src/webhooks/webhook-outbox";
import { WebhookEvent } from "../src/webhooks/webhook.enums";
import type { WebhookTuning } from "../src/webhooks/webhooks.module";
import { freshDatabase, usingPostgres } from "./support/database";
import { deferred, eventually, untilLine } from "./support/eventually";
import { startTestGateway, TEST_ENCRYPTION_KEY, TEST_JWT_SECRET, type TestGateway } from "./support/gateway";
import { freePort } from "./support/simulated";
import { spawnGateway } from "./support/spawn-gateway";

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
async function deploy(
  url: string,
  user: string,
  apiKey: string,
  name: string,
  run: { epochs: number; budgetLimitUsd: number } = { epochs: 1, budgetLimitUsd: 1 },
): Promise<string> {
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
        hyperparameters: { epochs: run.epochs, loggingSteps: 5 },
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
        budgetLimitUsd: run.budgetLimitUsd,
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
    const envelope = JSON.parse(completed.body) as {
      createdAt: string;
      data: { deployment: { costUsd: number } };
    };
    // Measured values first, then the whole envelope with them in place.
    expect(envelope.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(envelope.data.deployment.costUsd).toBeGreaterThan(0);
    expect(envelope).toEqual({
      id: completed.headers["x-traingate-event-id"],
      type: "DEPLOYMENT_COMPLETED",
      createdAt: envelope.createdAt,
      data: {
        deployment: {
          id,
          name: "llama on alpaca",
          status: "COMPLETED",
          costUsd: envelope.data.deployment.costUsd,
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
    // (An attempt is logged just after its answer arrives.)
    const log = await eventually(async () => {
      const entries = await deliveries(t, "wh-run", jsonHook.id);
      return entries.length === json.received.length && entries;
    }, "every attempt in the log");
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
    const listed = await t.gql<{
      webhooks: { id: string; format: string; enabled: boolean; lastDeliveryAt: string | null }[];
    }>("wh-run", `{ webhooks { id url format enabled lastDeliveryAt } }`);
    expect(listed.data?.webhooks.map((w) => [w.id, w.format, w.enabled, typeof w.lastDeliveryAt])).toEqual([
      [jsonHook.id, "JSON", true, "string"],
      [slackHook.id, "SLACK", true, "string"],
    ]);
    expect(JSON.stringify(listed)).not.toContain("whsec_");
  }, 90_000);

  it("sends each budget threshold once, then the budget stop", async () => {
    const hits = await receiver();
    await createWebhook(t, "wh-budget", { url: hits.url, events: ["BUDGET_ALERT", "DEPLOYMENT_STOPPED"] });
    const id = await deploy(t.url, "wh-budget", "sim_webhooks_0003", "long run", {
      epochs: 100,
      budgetLimitUsd: 0.05,
    });
    // The STOPPED alert follows the stop itself (it is raised once the deployment has finished).
    await hits.until(
      (r) =>
        r.some((x) => x.headers["x-traingate-event"] === "DEPLOYMENT_STOPPED") &&
        r.some((x) => x.body.includes('"thresholdPercent":100')),
      "the budget stop and its alert",
      60_000,
    );
    const alerts = hits.received
      .filter((x) => x.headers["x-traingate-event"] === "BUDGET_ALERT")
      .map(
        (x) =>
          (
            JSON.parse(x.body) as {
              data: { thresholdPercent: number; action: string; deployment: { id: string } };
            }
          ).data,
      );
    const thresholds = alerts.map((a) => a.thresholdPercent).sort((a, b) => a - b);
    expect(new Set(thresholds).size).toBe(thresholds.length);
    expect(thresholds).toContain(100);
    expect(alerts.find((a) => a.thresholdPercent === 100)?.action).toBe("STOPPED");
    expect(alerts.every((a) => a.deployment.id === id)).toBe(true);
    const stopped = hits.received.find((x) => x.headers["x-traingate-event"] === "DEPLOYMENT_STOPPED")!;
    expect(JSON.parse(stopped.body)).toMatchObject({
      data: { deployment: { id, status: "STOPPED", stopReason: "BUDGET_EXCEEDED", budgetLimitUsd: 0.05 } },
    });
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
    // And backward (Relay's last/before): the oldest two, then the two newer than them.
    const BACKWARD = `query($id: ID!, $last: Int, $before: String) {
      webhookDeliveries(webhookId: $id, last: $last, before: $before) {
        edges { node { attempt } } pageInfo { hasPreviousPage hasNextPage startCursor } } }`;
    type Backward = {
      webhookDeliveries: {
        edges: { node: { attempt: number } }[];
        pageInfo: { hasPreviousPage: boolean; hasNextPage: boolean; startCursor: string };
      };
    };
    const oldest = await t.gql<Backward>("wh-flaky", BACKWARD, { id: hook.id, last: 2 });
    expect(oldest.data!.webhookDeliveries.edges.map((e) => e.node.attempt)).toEqual([2, 1]);
    expect(oldest.data!.webhookDeliveries.pageInfo).toMatchObject({
      hasPreviousPage: true,
      hasNextPage: false,
    });
    const newer = await t.gql<Backward>("wh-flaky", BACKWARD, {
      id: hook.id,
      last: 2,
      before: oldest.data!.webhookDeliveries.pageInfo.startCursor,
    });
    expect(newer.data!.webhookDeliveries.edges.map((e) => e.node.attempt)).toEqual([4, 3]);
    expect(newer.data!.webhookDeliveries.pageInfo).toMatchObject({
      hasPreviousPage: false,
      hasNextPage: true,
    });
  }, 60_000);
});

const REGISTER_ENV = { WEBHOOK_ALLOW_PRIVATE: "true" };

describe("registration and its safety rules", () => {
  it("refuses loopback, private, link-local and metadata addresses while WEBHOOK_ALLOW_PRIVATE is off", async () => {
    const t = await startTestGateway();
    try {
      for (const url of [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[fd00:ec2::254]/hook",
        "http://[::ffff:127.0.0.1]/hook",
      ]) {
        const res = await t.gql("wh-safe", CREATE, { input: { url, events: ["DEPLOYMENT_FAILED"] } });
        expect({
          url,
          code: res.errors?.[0].extensions?.code,
          field: res.errors?.[0].extensions?.field,
        }).toEqual({
          url,
          code: "BAD_USER_INPUT",
          field: "input.url",
        });
        expect(res.errors?.[0].message).toMatch(/^input\.url: refused: /);
      }
      const bad = await t.gql("wh-safe", CREATE, {
        input: { url: "ftp://example.com/x", events: ["BUDGET_ALERT"] },
      });
      expect(bad.errors?.[0].message).toBe("input.url: must be an https:// URL");
      const none = await t.gql("wh-safe", CREATE, { input: { url: "https://203.0.113.9/x", events: [] } });
      expect(none.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT" });
      expect(JSON.stringify(none.errors?.[0].extensions)).toContain("input.events");
      const listed = await t.gql<{ webhooks: unknown[] }>("wh-safe", `{ webhooks { id } }`);
      expect(listed.data?.webhooks).toEqual([]);
    } finally {
      await t.close();
    }
  });

  it("checks the address again when it connects: a webhook made while private addresses were allowed is refused after", async () => {
    const shared = await freshDatabase();
    const hits = await receiver();
    let hook: { id: string; secret: string };
    const allowed = await startTestGateway({ database: shared, env: REGISTER_ENV });
    try {
      hook = await createWebhook(allowed, "wh-rebind", { url: hits.url, events: ["DEPLOYMENT_CREATED"] });
    } finally {
      await allowed.gateway.close();
    }
    const strict = await startTestGateway({ database: shared });
    try {
      const res = await strict.gql<{ testWebhook: Delivery }>(
        "wh-rebind",
        `mutation($id: ID!) { testWebhook(id: $id) { attempt statusCode error deliveredAt nextAttemptAt } }`,
        { id: hook.id },
      );
      expect(res.data?.testWebhook.error).toMatch(/^refused: 127\.0\.0\.1 is a loopback, private/);
      expect(res.data?.testWebhook).toMatchObject({
        attempt: 1,
        statusCode: null,
        deliveredAt: null,
        nextAttemptAt: null,
      });
      expect(hits.received).toEqual([]);
    } finally {
      await strict.gateway.close();
      await shared.drop();
    }
  });

  it("keeps signing with the same secret after ENCRYPTION_KEY is rotated, and seals it under the new key", async () => {
    const shared = await freshDatabase();
    const hits = await receiver();
    let hook: { id: string; secret: string };
    const before = await startTestGateway({ database: shared, env: REGISTER_ENV });
    try {
      hook = await createWebhook(before, "wh-rotate", { url: hits.url, events: ["BUDGET_ALERT"] });
    } finally {
      await before.gateway.close();
    }
    const newKey = Buffer.alloc(32, 9).toString("base64");
    const after = await startTestGateway({
      database: shared,
      env: { ...REGISTER_ENV, ENCRYPTION_KEY: newKey, ENCRYPTION_KEY_PREVIOUS: TEST_ENCRYPTION_KEY },
    });
    try {
      const versionOf = async () =>
        (
          await after.gateway.db.dataSource.query<{ secret_key_version: string }[]>(
            `SELECT secret_key_version FROM webhooks WHERE id = $1`,
            [hook.id],
          )
        )[0].secret_key_version;
      const old = await versionOf();
      const res = await after.gql<{ testWebhook: Delivery }>(
        "wh-rotate",
        `mutation($id: ID!) { testWebhook(id: $id) { statusCode } }`,
        { id: hook.id },
      );
      expect(res.data?.testWebhook.statusCode).toBe(200);
      const [received] = hits.received;
      expect(
        verifyWebhook(hook.secret, received.body, received.headers["x-traingate-signature"] as string),
      ).toBe(true);
      expect(await versionOf()).not.toBe(old);
      expect(await versionOf()).toBe(after.gateway.config.encryptionKeys[0].version);
    } finally {
      await after.gateway.close();
      await shared.drop();
    }
  });

  it("tests, updates and deletes a webhook; another user sees none of it", async () => {
    const t = await startTestGateway({ env: REGISTER_ENV });
    try {
      const first = await receiver();
      const second = await receiver();
      const hook = await createWebhook(t, "wh-crud", {
        url: first.url,
        events: ["BUDGET_ALERT"],
        description: "ops",
      });
      const TEST = `mutation($id: ID!) { testWebhook(id: $id) { eventId event attempt statusCode responseExcerpt deliveredAt } }`;
      const tested = await t.gql<{ testWebhook: Delivery }>("wh-crud", TEST, { id: hook.id });
      expect(tested.data?.testWebhook).toMatchObject({
        event: "WEBHOOK_TEST",
        attempt: 1,
        statusCode: 200,
        responseExcerpt: "answer 200",
      });
      expect(first.received).toHaveLength(1);
      expect(first.received[0].headers["x-traingate-event-id"]).toBe(tested.data?.testWebhook.eventId);
      expect(
        verifyWebhook(
          hook.secret,
          first.received[0].body,
          first.received[0].headers["x-traingate-signature"] as string,
        ),
      ).toBe(true);
      expect(JSON.parse(first.received[0].body)).toMatchObject({
        type: "WEBHOOK_TEST",
        data: { webhook: { id: hook.id } },
      });

      const UPDATE = `mutation($id: ID!, $input: WebhookInput!) { updateWebhook(id: $id, input: $input) { id url events format description enabled } }`;
      const updated = await t.gql<{ updateWebhook: Record<string, unknown> }>("wh-crud", UPDATE, {
        id: hook.id,
        input: { url: second.url, events: ["DEPLOYMENT_FAILED", "DEPLOYMENT_STOPPED"], format: "DISCORD" },
      });
      expect(updated.data?.updateWebhook).toEqual({
        id: hook.id,
        url: second.url,
        events: ["DEPLOYMENT_FAILED", "DEPLOYMENT_STOPPED"],
        format: "DISCORD",
        description: null,
        enabled: true,
      });
      await t.gql("wh-crud", TEST, { id: hook.id });
      // The secret stays; the body is now Discord's.
      expect(second.received).toHaveLength(1);
      expect(
        verifyWebhook(
          hook.secret,
          second.received[0].body,
          second.received[0].headers["x-traingate-signature"] as string,
        ),
      ).toBe(true);
      expect(JSON.parse(second.received[0].body)).toEqual({
        content: `TrainGate: a test delivery; this webhook works. [Open in TrainGate](<${t.gateway.config.publicUrl}/dashboard/>)`,
      });

      // Another user: not found, nothing sent, nothing deleted.
      const foreign = await t.gql("wh-other", TEST, { id: hook.id });
      expect(foreign.errors?.[0].extensions?.code).toBe("NOT_FOUND");
      const foreignLog = await t.gql("wh-other", DELIVERIES, { id: hook.id });
      expect(foreignLog.errors?.[0].extensions?.code).toBe("NOT_FOUND");
      const DELETE = `mutation($id: ID!) { deleteWebhook(id: $id) }`;
      expect((await t.gql("wh-other", DELETE, { id: hook.id })).data).toEqual({ deleteWebhook: false });
      expect((await t.gql("wh-crud", DELETE, { id: hook.id })).data).toEqual({ deleteWebhook: true });
      expect((await t.gql("wh-crud", DELETE, { id: hook.id })).data).toEqual({ deleteWebhook: false });
      expect((await t.gql<{ webhooks: unknown[] }>("wh-crud", `{ webhooks { id } }`)).data?.webhooks).toEqual(
        [],
      );
    } finally {
      await t.close();
    }
  });
});

describe("client-examples/verify-webhook.ts", () => {
  it("run as a receiver, verifies and prints a real delivery once, and refuses an unsigned request", async () => {
    const t = await startTestGateway({ env: REGISTER_ENV });
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/`;
    const hook = await createWebhook(t, "wh-example", { url, events: ["DEPLOYMENT_COMPLETED"] });
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        path.join(__dirname, "../client-examples/verify-webhook.ts"),
        "--port",
        String(port),
      ],
      {
        env: { PATH: process.env.PATH, TRAINGATE_WEBHOOK_SECRET: hook.secret },
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    try {
      await untilLine(child.stdout, /^listening on/, "the example to listen", { child });
      const TEST = `mutation($id: ID!) { testWebhook(id: $id) { eventId statusCode } }`;
      const printed = untilLine(child.stdout, /^(\S+) (\{.*\})$/, "the verified event", { child });
      const first = await t.gql<{ testWebhook: { eventId: string; statusCode: number } }>(
        "wh-example",
        TEST,
        {
          id: hook.id,
        },
      );
      expect(first.data?.testWebhook.statusCode).toBe(204);
      const [, eventId, body] = await printed;
      expect(eventId).toBe(first.data?.testWebhook.eventId);
      expect(JSON.parse(body)).toMatchObject({ id: eventId, type: "WEBHOOK_TEST" });
      const unsigned = await fetch(url, { method: "POST", body: body });
      expect(unsigned.status).toBe(401);
    } finally {
      child.kill();
      await t.close();
    }
  }, 30_000);
});

/** Records `count` events for `user` as the deployment code does, each in a transaction of its own. */
async function enqueueEvents(t: TestGateway, user: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = await t.gateway.db.dataSource.transaction((tx) =>
      enqueueWebhookEvent(tx, user, WebhookEvent.DEPLOYMENT_CREATED, () => ({ sequence: i })),
    );
    ids.push(id!);
  }
  return ids;
}

describe("a webhook failing for its whole disable window", () => {
  it("is disabled, its pending deliveries dropped, and a WEBHOOK_DISABLED event goes to the user's other webhooks", async () => {
    const t = await startTestGateway({
      env: REGISTER_ENV,
      gatewayOptions: { background: true, webhooks: { ...FAST, disableAfterMs: 600 } },
    });
    try {
      const broken = await receiver(() => 500);
      const watcher = await receiver();
      const hook = await createWebhook(t, "wh-dis", { url: broken.url, events: ["DEPLOYMENT_CREATED"] });
      await createWebhook(t, "wh-dis", { url: watcher.url, events: ["WEBHOOK_DISABLED"] });
      await enqueueEvents(t, "wh-dis", 1);
      await watcher.until((r) => r.length === 1, "the WEBHOOK_DISABLED event");
      expect(JSON.parse(watcher.received[0].body)).toMatchObject({
        type: "WEBHOOK_DISABLED",
        data: { webhook: { id: hook.id, url: broken.url } },
      });
      const listed = await t.gql<{ webhooks: { id: string; enabled: boolean }[] }>(
        "wh-dis",
        `{ webhooks { id enabled } }`,
      );
      expect(listed.data?.webhooks.find((w) => w.id === hook.id)?.enabled).toBe(false);
      // Nothing more is sent to it, and new events skip it.
      const attempts = broken.received.length;
      await enqueueEvents(t, "wh-dis", 1);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(broken.received).toHaveLength(attempts);
      const log = await deliveries(t, "wh-dis", hook.id);
      expect(log[0].nextAttemptAt).toBeNull();
    } finally {
      await t.close();
    }
  }, 30_000);
});

describe("a delivery still failing at its give-up time", () => {
  it("is given up: the last attempt schedules nothing and nothing more is sent", async () => {
    const t = await startTestGateway({
      env: REGISTER_ENV,
      gatewayOptions: {
        background: true,
        webhooks: { ...FAST, retry: { ...FAST.retry, giveUpAfterMs: 500 } },
      },
    });
    try {
      const broken = await receiver(() => 500);
      const hook = await createWebhook(t, "wh-giveup", { url: broken.url, events: ["DEPLOYMENT_CREATED"] });
      await enqueueEvents(t, "wh-giveup", 1);
      const log = await eventually(async () => {
        const entries = await deliveries(t, "wh-giveup", hook.id);
        return entries.length > 0 && entries[0].nextAttemptAt === null && entries;
      }, "the last attempt");
      const sent = broken.received.length;
      expect(sent).toBe(log.length);
      expect(sent).toBeGreaterThan(1);
      expect(log.map((e) => e.attempt)).toEqual(log.map((_, i) => sent - i));
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(broken.received).toHaveLength(sent);
      // Given up, not disabled: the webhook is still enabled for the next event.
      const listed = await t.gql<{ webhooks: { enabled: boolean }[] }>(
        "wh-giveup",
        `{ webhooks { enabled } }`,
      );
      expect(listed.data?.webhooks).toEqual([{ enabled: true }]);
    } finally {
      await t.close();
    }
  }, 30_000);
});

describe("two replicas", () => {
  it(`never deliver the same attempt twice${usingPostgres() ? "" : " (embedded: two workers racing over one database)"}`, async () => {
    const shared = await freshDatabase();
    // Each event's first attempt fails, so retries race too.
    const hits = await receiver((_, before) => (before === 0 ? 503 : 200));
    const options = {
      database: shared,
      env: REGISTER_ENV,
      gatewayOptions: { background: usingPostgres(), webhooks: FAST },
    };
    const a = await startTestGateway(options);
    const b = usingPostgres() ? await startTestGateway(options) : a;
    try {
      const hook = await createWebhook(a, "wh-ha", { url: hits.url, events: ["DEPLOYMENT_CREATED"] });
      const ids = await enqueueEvents(a, "wh-ha", 30);
      // Two passes at a time (on PostgreSQL one per replica, beside both replicas' own workers) until every
      // event is delivered: the claims race for real.
      await eventually(async () => {
        await Promise.all([
          a.gateway.services.webhookDelivery.deliverDue(),
          b.gateway.services.webhookDelivery.deliverDue(),
        ]);
        return hits.received.filter((r) => r.status === 200).length === ids.length;
      }, "every event delivered");
      for (const id of ids) expect(hits.of(id).map((r) => r.status)).toEqual([503, 200]);
      const log = await eventually(async () => {
        const entries = await deliveries(a, "wh-ha", hook.id);
        return entries.length >= ids.length * 2 && entries;
      }, "every attempt in the log");
      const attempts = log.map((e) => `${e.eventId}#${e.attempt}`);
      expect(new Set(attempts).size).toBe(attempts.length);
      expect(attempts).toHaveLength(ids.length * 2);
    } finally {
      if (b !== a) await b.gateway.close();
      await a.gateway.close();
      await shared.drop();
    }
  }, 60_000);
});

describe("a gateway killed in the middle of a delivery", () => {
  let sim: RunpodSimulator;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    sim = await startRunpodSimulator({ trainer: false, autoAccountPrefix: null });
  });
  afterAll(async () => {
    for (const child of children) child.kill("SIGKILL");
    await sim.close();
  });

  it("delivers after a restart, once its lease runs out, with the same event id", async () => {
    const target = usingPostgres() ? await freshDatabase() : undefined;
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "traingate-wh-kill-"));
    // The first request is never answered: the gateway is killed while it waits.
    const hits = await receiver((_, before) => (before === 0 ? null : 200));
    const env: Record<string, string> = {
      ...REGISTER_ENV,
      DATA_DIR: dataDir,
      ...(target?.databaseUrl ? { DATABASE_URL: target.databaseUrl } : {}),
    };
    const { child, url } = await spawnGateway({
      ...env,
      RUNPOD_API_URL: sim.url,
      PORT: "0",
      TEST_GATEWAY_OPTIONS: JSON.stringify({
        background: true,
        webhooks: { pollIntervalMs: 50, leaseMs: 1_500 },
      }),
    });
    children.push(child);
    const hook = await createWebhook(url, "wh-kill", { url: hits.url, events: ["DEPLOYMENT_CREATED"] });
    await deploy(url, "wh-kill", sim.addAccount().apiKey, "killed");
    await hits.until((r) => r.length === 1, "the first attempt");
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;

    const restarted = await startTestGateway({
      env: { ...env, RUNPOD_API_URL: sim.url },
      useDataDir: !target,
      database: target,
      gatewayOptions: { background: true, webhooks: FAST },
    });
    try {
      await hits.until((r) => r.length === 2, "the delivery after the restart");
      expect(hits.received[1].headers["x-traingate-event-id"]).toBe(
        hits.received[0].headers["x-traingate-event-id"],
      );
      expect(hits.received[1].headers["x-traingate-event"]).toBe("DEPLOYMENT_CREATED");
      const log = await eventually(async () => {
        const entries = await deliveries(restarted, "wh-kill", hook.id);
        return entries.length > 0 && entries;
      }, "the attempt in the log");
      // The killed attempt left no log entry; the one after the restart is the second.
      expect(log.map((e) => [e.attempt, e.statusCode])).toEqual([[2, 200]]);
    } finally {
      await restarted.gateway.close();
      await target?.drop();
    }
  }, 90_000);
});
