/**
 * The Webhooks page and the run page's health alerts in Chromium against a real gateway: a webhook created in
 * the page pointing at a local receiver, its secret shown once, a test delivery that reaches the receiver and
 * shows in the log; and a NaN loss posted with the job token, as a pod does, shown on the open run page.
 *
 * Same rules as browser.spec.ts: the page reaches the gateway and nothing else, and any console error,
 * page error, failed request or HTTP status >= 400 fails the test.
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser } from "playwright-core";
import { newDeployment } from "../../test/support/factories";
import { startTestGateway, type TestGateway } from "../../test/support/gateway";
import { launchBrowser, openGuardedPage, type GuardedPage } from "./testing/browser";
import { ensureWebBuilt } from "./testing/web-build";

let t: TestGateway;
let browser: Browser;
let guarded: GuardedPage | undefined;
let receiver: Server;
/** What the local endpoint received: each request's headers and body. */
const received: { headers: IncomingHttpHeaders; body: string }[] = [];

beforeAll(async () => {
  await ensureWebBuilt();
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  // Each is kept as soon as it starts, so afterAll closes it even when the other fails to start.
  await Promise.all([
    startTestGateway({ env: { WEBHOOK_ALLOW_PRIVATE: "true", LOG_LEVEL: "warn" } }).then(
      (started) => (t = started),
    ),
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
  await new Promise((resolve) => receiver?.close(resolve));
});

async function open(user: string): Promise<GuardedPage> {
  guarded = await openGuardedPage(browser, t.url);
  await guarded.context.addInitScript({
    content: `window.localStorage.setItem("traingate.token", ${JSON.stringify(await t.token(user))});`,
  });
  return guarded;
}

test("creates a webhook, shows its secret once, sends a test delivery and logs it", async () => {
  const { page, problems } = await open("hook-ann");
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/traingate`;

  await page.goto("/dashboard");
  await page.getByRole("link", { name: "Webhooks" }).click();
  await page.locator('[data-testid="webhooks-page"][data-state="loaded"]').waitFor();
  await page.getByTestId("no-webhooks").waitFor();

  // No event chosen: the gateway's BAD_USER_INPUT lands under the events, and nothing is created.
  await page.getByLabel("Endpoint URL").fill(url);
  await page.getByTestId("webhook-create").click();
  const eventsError = page.getByTestId("webhook-events-error");
  await eventsError.waitFor();
  expect(await eventsError.textContent()).toMatch(/events/);
  expect(await page.getByTestId("webhook").count()).toBe(0);

  await page.getByLabel("deployment completed").check();
  await page.getByLabel("training alert").check();
  await page.getByLabel("Format").selectOption("JSON");
  await page.getByLabel("Description (optional)").fill("ops channel");
  await page.getByTestId("webhook-create").click();

  const secret = page.getByTestId("webhook-secret");
  await secret.waitFor();
  const signingSecret = (await secret.textContent()) ?? "";
  expect(signingSecret.length).toBeGreaterThanOrEqual(16);
  expect(await page.getByTestId("webhook-secret-card").textContent()).toMatch(/shown only this once/);
  expect(await eventsError.isHidden()).toBe(true);
  // Focus moves to the secret, so a screen reader reads the warning with it.
  expect(await page.evaluate<string>("document.activeElement.dataset.testid")).toBe("webhook-secret-card");

  const card = page.getByTestId("webhook");
  await card.waitFor();
  expect(await card.getByTestId("webhook-url-text").textContent()).toBe(url);
  expect(await card.getByTestId("webhook-enabled").textContent()).toBe("Enabled");
  expect(await card.getByTestId("webhook-last-delivery").textContent()).toBe("never");

  // The secret is nowhere but in that card: not in storage, and gone once the page is left.
  const stored = await page.evaluate<string>("JSON.stringify({ ...localStorage, ...sessionStorage })");
  expect(stored).toContain("traingate.token");
  expect(stored).not.toContain(signingSecret);
  await page.getByRole("link", { name: "Deployments" }).first().click();
  await page.getByRole("link", { name: "Webhooks" }).click();
  await page.getByTestId("webhook").waitFor();
  expect(await page.getByTestId("webhook-secret").count()).toBe(0);

  await page.getByTestId("webhook").getByTestId("webhook-test").click();
  const result = page.getByTestId("webhook-test-result");
  await result.filter({ hasText: "Delivered" }).waitFor();
  expect(await result.textContent()).toMatch(/^Delivered · HTTP 200 · \d+(\.\d)? m?s$/);
  expect(received).toHaveLength(1);
  expect(JSON.parse(received[0].body)).toMatchObject({ type: "WEBHOOK_TEST" });

  // The attempt shows in the log, which the test opened.
  const row = page.getByTestId("webhook-log").getByTestId("webhook-delivery");
  await row.first().waitFor();
  expect(await row.count()).toBe(1);
  expect(await row.getAttribute("data-event")).toBe("WEBHOOK_TEST");
  expect(await row.getByTestId("webhook-delivery-status").textContent()).toBe("HTTP 200");
  expect(await row.textContent()).toContain('{"ok":true}');
  expect(await page.getByTestId("webhook-last-delivery").textContent()).toBe("just now");

  // Ten more attempts: the log shows the newest ten, and "Older" brings the first one.
  const hookId = await page.getByTestId("webhook").getAttribute("data-webhook-id");
  for (let i = 0; i < 10; i++) {
    const sent = await t.gql("hook-ann", "mutation($id: ID!) { testWebhook(id: $id) { id } }", {
      id: hookId,
    });
    expect(sent.errors).toBeUndefined();
  }
  await page.getByTestId("webhook-log-toggle").click();
  await page.getByTestId("webhook-log-toggle").click();
  const older = page.getByTestId("webhook-log-older");
  await older.waitFor();
  expect(await row.count()).toBe(10);
  await older.click();
  await row.nth(10).waitFor();
  expect(await row.count()).toBe(11);
  expect(await older.isHidden()).toBe(true);

  // Delete asks first, then the webhook is gone, here and at the gateway.
  await page.getByTestId("webhook-delete").click();
  await page.getByTestId("webhook-delete-confirm").click();
  await page.getByTestId("no-webhooks").waitFor();
  const left = await t.gql<{ webhooks: unknown[] }>("hook-ann", "{ webhooks { id } }");
  expect(left.data?.webhooks).toEqual([]);
  expect(problems).toEqual([]);
}, 60_000);

test("the run page shows a health alert raised by a NaN loss while it is open", async () => {
  const rows = await newDeployment(t.gateway.db.dataSource, "hook-bob");
  const { page, problems } = await open("hook-bob");
  await page.goto(`/dashboard/deployments/${rows.deployment.id}`);
  await page.locator('[data-testid="deployment-page"][data-status="RUNNING"]').waitFor();
  expect(await page.getByTestId("health-alerts").isHidden()).toBe(true);
  // budgetAlerts, deploymentUpdated(id), trainingMetrics and trainingAlerts, all live before the pod reports
  const deadline = Date.now() + 10_000;
  while (t.gateway.services.subscriptions.openFor("hook-bob") < 4) {
    if (Date.now() > deadline) throw new Error("the run page's subscriptions did not open");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  const res = await fetch(`${t.url}/api/training/jobs/${rows.job.id}/metrics`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${rows.jobToken}` },
    body: JSON.stringify({ metrics: [{ step: 3, loss: "NaN" }] }),
  });
  expect(res.status).toBe(200);

  const alert = page.getByTestId("health-alerts").getByTestId("health-alert");
  await alert.waitFor();
  expect(await alert.getAttribute("data-kind")).toBe("LOSS_NAN");
  expect(await alert.locator("strong").textContent()).toBe(
    "Loss is not a number at step 3 — stopping the run",
  );
  expect(problems).toEqual([]);
}, 60_000);
