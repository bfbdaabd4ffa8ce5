/**
 * Browser scenarios that need the whole backend (deployTraining, the pod callbacks and artifact upload, the
 * three subscriptions, stopDeployment); nothing here is skipped.
 *
 * Same rules as browser.spec.ts: the page reaches the gateway and nothing else, and any console error,
 * page error, failed request or HTTP status >= 400 fails the test.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Browser, Page, WebSocketRoute } from "playwright-core";
import { newDeployment, type DeploymentRows } from "../../test/support/factories";
import { startSimulatedGateway, type SimulatedSetup } from "../../test/support/simulated";
import { budgetAlertTopics as topics } from "../supervision/budget-alert-stream";
import { launchBrowser, openGuardedPage, type GuardedPage } from "./testing/browser";
import { ensureWebBuilt } from "./testing/web-build";
import { tarBuffer } from "../trainer/tar";
import type { TestGateway } from "../../test/support/gateway";

/** Where the screenshots go: a temporary folder, or `SCREENSHOT_DIR=client-examples/screenshots` to refresh the README's images. */
const SCREENSHOTS = path.resolve(
  process.env.SCREENSHOT_DIR ?? path.join(os.tmpdir(), "traingate-screenshots"),
);

let s: SimulatedSetup;
let t: TestGateway;
let browser: Browser;
let guarded: GuardedPage | undefined;

beforeAll(async () => {
  await ensureWebBuilt();
  // Each is kept as soon as it starts, so afterAll closes it even when the other fails to start.
  await Promise.all([
    startSimulatedGateway({ background: true, env: { LOG_LEVEL: "warn" } }).then((started) => (s = started)),
    launchBrowser().then((launched) => (browser = launched)),
  ]);
  t = s.t;
}, 120_000);

afterEach(async () => {
  await guarded?.close();
  guarded = undefined;
});

afterAll(async () => {
  await browser?.close();
  await t?.close();
  await s?.sim.close();
});

async function open(user: string): Promise<GuardedPage> {
  guarded = await openGuardedPage(browser, t.url);
  await guarded.context.addInitScript({
    content: `window.localStorage.setItem("traingate.token", ${JSON.stringify(await t.token(user))});`,
  });
  return guarded;
}

/** What a trainer sends: one point per step (snake_case, as the pod callback routes take them). */
function point(step: number) {
  return {
    step,
    epoch: step / 100,
    loss: 2.4 * Math.exp(-step / 60) + 0.35,
    eval_loss: step % 20 === 0 ? 2.5 * Math.exp(-step / 60) + 0.45 : null,
    learning_rate: step < 10 ? (0.0002 * step) / 10 : 0.0002 * (1 - step / 400),
    grad_norm: 1.1,
    samples_per_second: 8.2,
    elapsed_seconds: step * 3,
    remaining_seconds: 600 - step * 2,
    progress: step / 3,
    gpu_memory_allocated_gb: 12.3,
    gpu_memory_reserved_gb: 14.0,
    gpu_utilization_percent: 97,
  };
}

async function callback(
  jobId: string,
  jobToken: string,
  route: "metrics" | "status",
  body: unknown,
): Promise<void> {
  const res = await fetch(`${t.url}/api/training/jobs/${jobId}/${route}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${jobToken}` },
    body: JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(`${route}: ${res.status} ${await res.text()}`);
}

const postSteps = (rows: DeploymentRows, steps: number[]) =>
  callback(rows.job.id, rows.jobToken, "metrics", { metrics: steps.map(point) });

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/** Resolves once the gateway holds at least `count` live subscriptions (graphql-ws has no subscribe ack). */

async function subscriptionsOpenFor(userId: string, count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (t.gateway.services.subscriptions.openFor(userId) < count) {
    if (Date.now() > deadline) throw new Error(`fewer than ${count} subscriptions of ${userId} opened`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function expectStatus(page: Page, status: string): Promise<void> {
  await page.locator(`[data-testid="deployment-page"][data-status="${status}"]`).waitFor({ timeout: 20_000 });
}

describe("deploying from the dashboard (RunPod simulator)", () => {
  test("deploys a saved config with a fallback GPU and a budget, then follows it live to RUNNING", async () => {
    await s.withRunpodKey("live-ann");
    const configId = await s.newConfig("live-ann", { name: "tiny llama sft" });
    s.sim.clearRequests();
    const { page, problems } = await open("live-ann");

    await page.goto("/dashboard/new");
    await page.locator('[data-testid="deploy-form"][data-state="ready"]').waitFor();
    await page.getByLabel("Training config").selectOption(configId);
    await page.getByLabel("GPU type").selectOption("H100_SXM");
    await page.getByLabel("Fallback 1 (optional)").selectOption("A100_SXM_80GB");
    await page.getByLabel("Budget (USD)").fill("2.5");
    await page.getByTestId("deploy-submit").click();

    await page.waitForURL(/\/dashboard\/deployments\/[\w-]+$/);
    const view = page.getByTestId("deployment-page");
    await view.locator("[data-status]").first().waitFor();
    expect(await view.getByTestId("cost").textContent()).toContain("of $2.50");

    const create = s.sim.requests.find((r) => r.fields.includes("podFindAndDeployOnDemand"));
    const env = (create?.variables as { input: { env: { key: string; value: string }[] } }).input.env;
    const jobId = env.find((e) => e.key === "JOB_ID")?.value ?? "";
    const jobToken = env.find((e) => e.key === "JOB_TOKEN")?.value ?? "";
    await callback(jobId, jobToken, "status", { status: "running" });
    await expectStatus(page, "RUNNING");
    expect(problems).toEqual([]);
  });

  test("Stop asks for confirmation, and only the confirmed stop terminates the pod", async () => {
    await s.withRunpodKey("live-bea");
    const configId = await s.newConfig("live-bea");
    const deployed = await t.gql<{ deployTraining: { id: string } }>(
      "live-bea",
      `mutation($input: DeployTrainingInput!) { deployTraining(input: $input) { id } }`,
      { input: { trainingConfigId: configId, budgetLimitUsd: 3 } },
    );
    const id = deployed.data?.deployTraining.id ?? "";
    const { page, problems } = await open("live-bea");
    await page.goto(`/dashboard/deployments/${id}`);

    await page.getByTestId("stop-button").click();
    await page.getByTestId("stop-dialog").waitFor();
    await page.getByTestId("stop-cancel").click();
    await page.getByTestId("stop-dialog").waitFor({ state: "hidden" });
    expect(await page.getByTestId("stop-button").isVisible()).toBe(true);

    await page.getByTestId("stop-button").click();
    await page.getByTestId("stop-confirm").click();
    await expectStatus(page, "STOPPED");
    expect(await page.getByTestId("stop-button").isHidden()).toBe(true);
    expect(await page.getByTestId("stop-reason").textContent()).toContain("stopped by you");

    await page.getByRole("link", { name: "← Deployments" }).click();
    await page
      .locator(`[data-testid="deployment-row"][data-deployment-id="${id}"][data-status="STOPPED"]`)
      .waitFor();
    expect(problems).toEqual([]);
  });
});

describe("a deployment's live page", () => {
  test("the loss curve grows as the trainer reports and resumes after a dropped socket, without gap or duplicate", async () => {
    const rows = await newDeployment(t.gateway.db.dataSource, "live-cid");
    await postSteps(rows, range(0, 5));
    const { page, problems } = await open("live-cid");
    // Pass the page's socket through to the gateway, keeping a handle to cut it.
    const sockets: WebSocketRoute[] = [];
    await page.routeWebSocket(
      (url) => url.pathname === "/graphql",
      (socket) => {
        sockets.push(socket);
        socket.connectToServer();
      },
    );
    await page.goto(`/dashboard/deployments/${rows.deployment.id}`);
    const chart = page.getByTestId("loss-chart");
    await chart.and(page.locator('[data-points="5"]')).waitFor(); // history, through afterStep: -1

    await postSteps(rows, range(5, 10));
    await chart.and(page.locator('[data-points="10"]')).waitFor(); // live

    await Promise.all(sockets.map((socket) => socket.close({ code: 1012, reason: "test drop" })));
    await postSteps(rows, range(10, 20)); // while the page is away
    await postSteps(rows, [19]); // a resend replaces, never adds
    await chart.and(page.locator('[data-points="20"][data-last-step="19"]')).waitFor({ timeout: 20_000 });
    await page.getByTestId("lr-chart").and(page.locator('[data-points="20"]')).waitFor();

    expect(sockets.length).toBeGreaterThanOrEqual(2);
    expect(await page.getByTestId("eta").textContent()).toBe("9 min 22 s");
    expect(await page.getByTestId("gpu-memory").textContent()).toBe("12.3 GB allocated · 14.0 GB reserved");
    expect(problems).toEqual([]);
  });

  test("shows where the adapter went once the job completes", async () => {
    const rows = await newDeployment(t.gateway.db.dataSource, "live-dan");
    const { page, problems } = await open("live-dan");
    await page.goto(`/dashboard/deployments/${rows.deployment.id}`);
    await expectStatus(page, "RUNNING");
    // budgetAlerts, deploymentUpdated(id) and trainingMetrics, all live before the job reports
    await subscriptionsOpenFor("live-dan", 3);

    await callback(rows.job.id, rows.jobToken, "status", {
      status: "completed",
      artifact_uri: "hf://acme/tiny-llama-sft",
    });
    await expectStatus(page, "COMPLETED");
    expect(await page.getByTestId("artifact-uri").textContent()).toBe("hf://acme/tiny-llama-sft");
    expect(problems).toEqual([]);
  });
});

describe("a result stored at the gateway", () => {
  test("shows its size, SHA-256 and files once the job completes, and Download brings the same bytes", async () => {
    const rows = await newDeployment(t.gateway.db.dataSource, "live-erin");
    const { page, problems } = await open("live-erin");
    await page.goto(`/dashboard/deployments/${rows.deployment.id}`);
    await expectStatus(page, "RUNNING");
    await subscriptionsOpenFor("live-erin", 3);

    // What the pod does at the end of a run: upload output/ as a tar, then report completion.
    const archive = await tarBuffer([
      { name: "adapter_config.json", content: Buffer.from('{"r":8}') },
      { name: "adapter_model.safetensors", content: randomBytes(300_000) },
    ]);
    const sha256 = createHash("sha256").update(archive).digest("hex");
    const uploaded = await fetch(`${t.url}/api/training/jobs/${rows.job.id}/artifact`, {
      method: "PUT",
      headers: {
        authorization: `Bearer ${rows.jobToken}`,
        "content-range": `bytes 0-${archive.length - 1}/${archive.length}`,
        "x-content-sha256": sha256,
      },
      body: archive,
    });
    expect(uploaded.status).toBe(200);
    await callback(rows.job.id, rows.jobToken, "status", {
      status: "completed",
      artifact_uri: `gateway://${rows.job.id}`,
    });
    await expectStatus(page, "COMPLETED");

    const card = page.getByTestId("artifact");
    await card.getByTestId("artifact-download").waitFor();
    expect(await card.getByTestId("artifact-uri").textContent()).toBe(`gateway://${rows.job.id}`);
    expect(await card.getByTestId("artifact-sha256").textContent()).toBe(sha256);
    expect(await card.getByTestId("artifact-size").textContent()).toBe(
      `${(archive.length / 1024).toFixed(1)} KiB`,
    );
    expect(await card.getByTestId("artifact-files").locator("li").allTextContents()).toEqual([
      "adapter_config.json 7 B",
      "adapter_model.safetensors 293.0 KiB",
    ]);

    const [download] = await Promise.all([
      page.waitForEvent("download"),
      card.getByTestId("artifact-download").click(),
    ]);
    expect(download.suggestedFilename()).toBe(`${rows.job.id}.tar`);
    const bytes = readFileSync(await download.path());
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(sha256);
    expect(problems).toEqual([]);
  });
});

describe("budget alerts", () => {
  test("appear as they arrive, on every page", async () => {
    const rows = await newDeployment(t.gateway.db.dataSource, "live-eve", { actualCostMicros: 4_100_000 });
    const { page, problems } = await open("live-eve");
    await page.goto("/dashboard");
    await page.getByTestId("deployment-row").waitFor();
    // budgetAlerts and deploymentUpdated: live (confirmed by the bus) before anything is published
    await subscriptionsOpenFor("live-eve", 2);

    await t.gateway.bus.publish(topics.userBudgetAlert("live-eve"), {
      deploymentId: rows.deployment.id,
      userId: "live-eve",
      thresholdPercent: 80,
      actualCostMicros: 4_100_000,
      budgetLimitMicros: 5_000_000,
      action: "NOTIFIED",
      at: new Date().toISOString(),
    });
    const alert = page.getByTestId("budget-alerts").getByTestId("budget-alert");
    await alert.getByText("80 % of budget used").waitFor();
    expect(await alert.getAttribute("data-deployment-id")).toBe(rows.deployment.id);
    expect(await page.getByTestId("budget").getAttribute("data-level")).toBe("warning");
    expect(problems).toEqual([]);
  });
});

describe("screenshots", () => {
  test("dashboard.png and deployment.png, with a 150-step loss curve", async () => {
    const rows = await newDeployment(t.gateway.db.dataSource, "live-fay", { actualCostMicros: 1_300_000 });
    await newDeployment(t.gateway.db.dataSource, "live-fay", { actualCostMicros: 4_300_000 });
    await postSteps(rows, range(0, 150));
    const { page, problems } = await open("live-fay");
    await page.setViewportSize({ width: 1280, height: 800 });
    mkdirSync(SCREENSHOTS, { recursive: true });

    await page.goto("/dashboard");
    await page.getByTestId("deployment-row").nth(1).waitFor();
    await page.screenshot({ path: path.join(SCREENSHOTS, "dashboard.png") });

    await page.goto(`/dashboard/deployments/${rows.deployment.id}`);
    await page.getByTestId("loss-chart").and(page.locator('[data-points="150"]')).waitFor();
    await page.screenshot({ path: path.join(SCREENSHOTS, "deployment.png"), fullPage: true });
    expect(problems).toEqual([]);
  });
});
