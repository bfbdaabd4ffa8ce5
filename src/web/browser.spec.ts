import type { Browser, Locator, Page } from "playwright-core";
import { newDeployment, newTrainingConfig } from "../../test/support/factories";
import {
  DEPLOYMENT,
  type Deployment,
  type DeploymentResult,
  type Metric,
} from "./client/dashboard/operations";
import { launchBrowser, openGuardedPage, type GuardedPage } from "./testing/browser";
import { ScriptedGraphqlWs } from "./testing/scripted-graphql-ws";
import { ensureWebBuilt } from "./testing/web-build";
import { startTestGateway, type TestGateway } from "../../test/support/gateway";

/**
 * The playground and the dashboard in headless Chromium, served by a real gateway on a random port. Each
 * page may reach the gateway and nothing else; every console error, page error, failed request and
 * HTTP status >= 400 fails the test.
 */
describe("web UI in a browser", () => {
  let t: TestGateway;
  let browser: Browser;
  let guarded: GuardedPage | undefined;

  beforeAll(async () => {
    await ensureWebBuilt();
    // Each is kept as soon as it starts, so afterAll closes it even when the other fails to start.
    await Promise.all([
      startTestGateway().then((started) => (t = started)),
      launchBrowser().then((launched) => (browser = launched)),
    ]);
  }, 120_000);

  afterEach(async () => {
    await guarded?.close();
    guarded = undefined;
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  const open = async (token?: string): Promise<GuardedPage> => {
    guarded = await openGuardedPage(browser, t.url);
    if (token) {
      await guarded.context.addInitScript({
        content: `window.localStorage.setItem("traingate.token", ${JSON.stringify(token)});`,
      });
    }
    return guarded;
  };

  describe("playground", () => {
    test("loads offline, documents the schema, and runs a query with the token set in the headers editor", async () => {
      const { page, problems } = await open();
      await page.goto("/playground");
      const queryEditor = page.locator(".graphiql-query-editor .monaco-editor");
      await queryEditor.waitFor({ timeout: 20_000 });

      await page.getByRole("button", { name: "Show Documentation Explorer" }).click();
      const docs = page.locator(".graphiql-doc-explorer");
      await docs.getByText("subscription: Subscription").waitFor();
      await docs.getByRole("link", { name: "Query", exact: true }).click();
      await docs.getByText("deployments").first().waitFor();

      await replaceEditorText(page, queryEditor, "{ me { id } }");
      const headersEditor = page.locator("section.graphiql-editor-tool .monaco-editor").last();
      await replaceEditorText(
        page,
        headersEditor,
        `{"Authorization": "Bearer ${await t.token("pg-alice")}"}`,
      );
      await page.getByRole("button", { name: /Execute query/ }).click();
      await page.locator(".result-window").getByText('"pg-alice"').waitFor();

      // Monaco's language services run in workers bundled beside the page, not fetched from a CDN.
      await waitUntil(() => page.workers().some((worker) => worker.url().includes("/graphql.worker-")));
      for (const worker of page.workers())
        expect(worker.url()).toMatch(new RegExp(`^${t.url}/playground/assets/`));
      expect(problems).toEqual([]);
    });

    test("sends the headers editor's token in connection_init and runs subscriptions over graphql-ws", async () => {
      const { page, problems } = await open();
      const sent: string[] = [];
      const received: string[] = [];
      page.on("websocket", (socket) => {
        socket.on("framesent", (frame) => sent.push(String(frame.payload)));
        socket.on("framereceived", (frame) => received.push(String(frame.payload)));
      });
      await page.goto("/playground");
      const queryEditor = page.locator(".graphiql-query-editor .monaco-editor");
      await queryEditor.waitFor({ timeout: 20_000 });
      const token = await t.token("pg-bob");

      await replaceEditorText(page, queryEditor, "subscription { budgetAlerts { action } }");
      const headersEditor = page.locator("section.graphiql-editor-tool .monaco-editor").last();
      await replaceEditorText(page, headersEditor, `{"Authorization": "Bearer ${token}"}`);
      await page.getByRole("button", { name: /Execute query/ }).click();

      await waitUntil(() => received.some((frame) => frame.includes('"connection_ack"')));
      await waitUntil(() => sent.some((frame) => frame.includes('"subscribe"')));
      const init = sent.map((frame) => JSON.parse(frame) as { type: string; payload?: unknown });
      expect(init[0]).toEqual({ type: "connection_init", payload: { authorization: `Bearer ${token}` } });
      expect(problems).toEqual([]);
    });

    test("is what a browser gets from GET /graphql", async () => {
      const { page, problems } = await open();
      const response = await page.goto("/graphql");
      expect(response?.headers()["content-type"]).toMatch(/^text\/html/);
      await page.locator(".graphiql-query-editor .monaco-editor").waitFor({ timeout: 20_000 });
      expect(problems).toEqual([]);
    });
  });

  describe("dashboard", () => {
    test("signs in with a pasted token, keeps it across a reload, and lists only the caller's deployments", async () => {
      const ds = t.gateway.db.dataSource;
      const config = await newTrainingConfig(ds, "dash-alice", { name: "llama sft" });
      await newDeployment(ds, "dash-alice", { actualCostMicros: 1_000_000 }, config);
      await newDeployment(ds, "dash-alice", { actualCostMicros: 4_200_000 }, config);
      await newDeployment(ds, "dash-mallory", {});
      const { page, problems } = await open();

      await page.goto("/dashboard");
      await page.getByTestId("token-input").fill(`Bearer ${await t.token("dash-alice")}`);
      await page.getByTestId("sign-in").click();
      await expectRows(page, 2);
      expect(await page.getByTestId("user-id").textContent()).toBe("dash-alice");
      expect(await page.getByTestId("deployment-status").allTextContents()).toEqual(["Running", "Running"]);
      expect(await page.getByTestId("budget").evaluateAll(levels)).toEqual(["warning", "ok"]);

      await page.reload();
      await expectRows(page, 2);
      expect(await page.getByTestId("user-id").textContent()).toBe("dash-alice");

      await page.getByTestId("sign-out").click();
      await page.getByTestId("token-input").waitFor();
      await page.reload();
      await page.getByTestId("token-input").waitFor();
      expect(problems).toEqual([]);
    });

    test("refuses a token the gateway does not accept", async () => {
      const { page, problems } = await open();
      await page.goto("/dashboard");
      await page.getByTestId("token-input").fill("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJldmUifQ.bm90LXNpZ25lZA");
      await page.getByTestId("sign-in").click();
      await page.getByTestId("sign-in-error").getByText("The gateway refused this token").waitFor();
      expect(await page.getByTestId("token-input").isVisible()).toBe(true);
      expect(problems).toEqual([]);
    });

    test("opens a deployment from the list with the keyboard and shows its cost against budget", async () => {
      const { deployment } = await newDeployment(t.gateway.db.dataSource, "dash-carol", {
        actualCostMicros: 5_000_000,
      });
      const { page, problems } = await open(await t.token("dash-carol"));
      await page.goto("/dashboard");
      await expectRows(page, 1);
      await page.getByRole("link", { name: "llama sft" }).focus();
      await page.keyboard.press("Enter");

      const view = page.getByTestId("deployment-page");
      await view.and(page.locator('[data-status="RUNNING"]')).waitFor();
      expect(new URL(page.url()).pathname).toBe(`/dashboard/deployments/${deployment.id}`);
      expect(await view.getByTestId("budget").getAttribute("data-level")).toBe("exceeded");
      expect(await view.getByTestId("cost").textContent()).toContain("$5.00 of $5.00");
      expect(await view.getByTestId("stop-button").isVisible()).toBe(true);
      expect(await view.getByTestId("loss-chart").getAttribute("data-points")).toBe("0");

      await page.goBack();
      await expectRows(page, 1);
      expect(problems).toEqual([]);
    });

    test("offers the caller's saved training configs and every GPU type for a new deployment", async () => {
      await newTrainingConfig(t.gateway.db.dataSource, "dash-dave", { name: "qwen dpo" });
      const { page, problems } = await open(await t.token("dash-dave"));
      await page.goto("/dashboard/new");
      await page.locator('[data-testid="deploy-form"][data-state="ready"]').waitFor();
      expect(await page.getByTestId("deploy-config").locator("option").allTextContents()).toEqual([
        "qwen dpo — meta-llama/Llama-3.2-1B (LORA)",
      ]);
      expect(await page.getByTestId("deploy-gpu").locator("option").count()).toBe(20);
      expect(await page.getByLabel("Budget (USD)").inputValue()).toBe("5");
      expect(problems).toEqual([]);
    });
  });

  describe("dashboard live views, against a scripted graphql-ws peer", () => {
    test("the loss curve resumes after a dropped socket from the last step drawn, with no gap and no duplicate", async () => {
      const { deployment } = await newDeployment(t.gateway.db.dataSource, "live-erin", {});
      const token = await t.token("live-erin");
      const { page, problems } = await open(token);
      const ws = await ScriptedGraphqlWs.install(page);
      await page.goto(`/dashboard/deployments/${deployment.id}`);

      const first = await ws.waitForSubscription("TrainingMetrics");
      expect(first.variables).toEqual({ jobId: deployment.jobId, afterStep: -1 });
      for (let step = 0; step < 10; step++)
        ws.next(first, { trainingMetrics: metric(deployment.jobId, step) });
      const chart = page.getByTestId("loss-chart");
      await chart.and(page.locator('[data-points="10"]')).waitFor();
      await page.getByTestId("stop-button").focus();

      await ws.dropConnections();
      const resumed = await ws.waitForSubscription("TrainingMetrics", (s) => s !== first);
      expect(resumed.variables).toEqual({ jobId: deployment.jobId, afterStep: 9 });
      for (let step = 10; step < 15; step++)
        ws.next(resumed, { trainingMetrics: metric(deployment.jobId, step) });
      ws.next(resumed, { trainingMetrics: metric(deployment.jobId, 14) }); // a resent step replaces, never adds
      await chart.and(page.locator('[data-points="15"][data-last-step="14"]')).waitFor();
      await page.getByTestId("lr-chart").and(page.locator('[data-points="15"]')).waitFor();

      // Re-rendering on every point keeps a keyboard user where they were.
      expect(await page.evaluate("document.activeElement?.dataset.testid")).toBe("stop-button");
      expect(await page.getByTestId("eta").textContent()).toBe("8 min 00 s");
      expect(await page.getByTestId("gpu-memory").textContent()).toBe("12.3 GB allocated · 14.0 GB reserved");
      expect(await page.getByTestId("progress-meter").textContent()).toBe("15 %");
      // One socket before the drop, one after, each authorised in connection_init.
      expect(ws.connectionParams).toEqual([
        { authorization: `Bearer ${token}` },
        { authorization: `Bearer ${token}` },
      ]);
      expect(problems).toEqual([]);
    });

    test("budget alerts and deployment updates arrive live on the list", async () => {
      const { deployment } = await newDeployment(t.gateway.db.dataSource, "live-frank", {
        actualCostMicros: 3_000_000,
      });
      const token = await t.token("live-frank");
      const current = await t.gql<DeploymentResult>("live-frank", DEPLOYMENT, { id: deployment.id });
      const node = current.data?.deployment as Deployment;
      const { page, problems } = await open(token);
      const ws = await ScriptedGraphqlWs.install(page);
      await page.goto("/dashboard");
      await expectRows(page, 1);

      const alerts = await ws.waitForSubscription("BudgetAlerts");
      ws.next(alerts, {
        budgetAlerts: {
          thresholdPercent: 80,
          actualCostUsd: 4.01,
          budgetLimitUsd: 5,
          action: "NOTIFIED",
          at: new Date().toISOString(),
          deployment: {
            id: node.id,
            status: node.status,
            trainingConfig: { name: node.trainingConfig.name },
          },
        },
      });
      await page
        .getByTestId("budget-alerts")
        .getByTestId("budget-alert")
        .getByText("80 % of budget used")
        .waitFor();

      const updates = await ws.waitForSubscription("DeploymentUpdated");
      expect(updates.variables).toEqual({});
      ws.next(updates, {
        deploymentUpdated: {
          ...node,
          status: "STOPPED",
          stopReason: "BUDGET_EXCEEDED",
          actualCostUsd: 5,
          budgetUsedPercent: 100,
        },
      });
      await page.locator('[data-testid="deployment-row"][data-status="STOPPED"]').waitFor();
      expect(await page.getByTestId("budget").evaluateAll(levels)).toEqual(["exceeded"]);
      expect(problems).toEqual([]);
    });
  });
});

/** Replaces a Monaco editor's text the way a user would: select all, delete, type. */
async function replaceEditorText(page: Page, editor: Locator, text: string): Promise<void> {
  await editor.click();
  await page.keyboard.press("ControlOrMeta+A");
  await page.keyboard.press("Backspace");
  // Typed (not pasted), so Monaco's auto-closed brackets and quotes are typed over, as they are for a user.
  await page.keyboard.type(text);
}

async function expectRows(page: Page, count: number): Promise<void> {
  await page.locator('[data-state="loaded"]').waitFor();
  await page
    .getByTestId("deployment-row")
    .nth(count - 1)
    .waitFor();
  expect(await page.getByTestId("deployment-row").count()).toBe(count);
}

function levels(elements: { getAttribute(name: string): string | null }[]): (string | null)[] {
  return elements.map((element) => element.getAttribute("data-level"));
}

async function waitUntil(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function metric(jobId: string, step: number): Metric {
  return {
    jobId,
    step,
    epoch: step / 100,
    loss: 2.5 - step * 0.05,
    evalLoss: step % 5 === 4 ? 2.6 - step * 0.05 : null,
    learningRate: 0.0002 * Math.min(1, (step + 1) / 5),
    gradNorm: 1.1,
    samplesPerSecond: 8.2,
    elapsedSeconds: step * 30,
    remainingSeconds: 900 - step * 30,
    progress: step + 1,
    gpuMemoryAllocatedGb: 12.3,
    gpuMemoryReservedGb: 14,
    gpuUtilizationPercent: 97,
    timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, step)).toISOString(),
  };
}
