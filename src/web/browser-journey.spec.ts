import type { Browser } from "playwright-core";
import { startSimulatedGateway, type SimulatedSetup } from "../../test/support/simulated";
import { launchBrowser, openGuardedPage, type GuardedPage } from "./testing/browser";
import { ensureWebBuilt } from "./testing/web-build";

/**
 * A new user's whole first run, in Chromium against the real gateway and the RunPod simulator with its simulated
 * trainer: paste a token, deploy a saved config, watch the loss chart grow from the trainer's points, see a
 * budget alert raised by the watchdog, press Stop, see STOPPED. No request leaves the gateway's origin and the
 * console stays clean.
 */
let s: SimulatedSetup;
let browser: Browser;
let guarded: GuardedPage | undefined;

beforeAll(async () => {
  await ensureWebBuilt();
  // Each is kept as soon as it starts, so afterAll closes it even when the other fails to start.
  await Promise.all([
    startSimulatedGateway({
      // 60x: the supervisor (every 250 ms) sees a simulated quarter-minute pass per look.
      simulator: { speedFactor: 60, trainer: { stepsPerEpoch: 2_000, stepsPerSecond: 0.5, fixedPace: true } },
      env: { WATCHDOG_INTERVAL_MS: "250", SYNC_INTERVAL_MS: "500", LOG_LEVEL: "warn" },
      background: true,
    }).then((started) => (s = started)),
    launchBrowser().then((launched) => (browser = launched)),
  ]);
}, 120_000);

afterAll(async () => {
  await guarded?.close();
  await browser?.close();
  await s?.close();
});

test("paste a token, deploy, watch the loss fall, get a budget alert, stop", async () => {
  await s.withRunpodKey("journey");
  const configId = await s.newConfig("journey", { name: "first run" });
  guarded = await openGuardedPage(browser, s.t.url);
  const { page, problems } = guarded;

  await page.goto("/dashboard");
  await page.getByTestId("token-input").fill(await s.t.token("journey"));
  await page.getByTestId("sign-in").click();
  await page.getByTestId("user-id").filter({ hasText: "journey" }).waitFor();

  await page.getByTestId("new-deployment").click();
  await page.locator('[data-testid="deploy-form"][data-state="ready"]').waitFor();
  await page.getByLabel("Training config").selectOption(configId);
  await page.getByLabel("Budget (USD)").fill("0.05");
  await page.getByTestId("deploy-submit").click();
  await page.waitForURL(/\/dashboard\/deployments\/[\w-]+$/);

  // The simulated trainer's points arrive over the subscription and the curve grows.
  const chart = page.getByTestId("loss-chart");
  await chart.locator("xpath=self::*[number(@data-points) >= 3]").waitFor({ timeout: 30_000 });
  const early = Number(await chart.getAttribute("data-points"));
  await chart.locator(`xpath=self::*[number(@data-points) > ${early}]`).waitFor({ timeout: 30_000 });

  // Half of $0.05 spent: the watchdog's alert shows up on the page.
  await page.getByTestId("budget-alerts").getByTestId("budget-alert").first().waitFor({ timeout: 60_000 });
  expect(await page.getByTestId("budget-alerts").textContent()).toMatch(/50 % of budget used/);

  await page.getByTestId("stop-button").click();
  await page.getByTestId("stop-confirm").click();
  await page.locator('[data-testid="deployment-page"][data-status="STOPPED"]').waitFor({ timeout: 20_000 });
  expect(await page.getByTestId("stop-reason").textContent()).toContain("stopped by you");
  expect(problems).toEqual([]);
}, 150_000);
