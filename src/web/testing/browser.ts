import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

/** Debian's `apt-get install chromium`; override with CHROMIUM_PATH. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
    headless: true,
    timeout: 30_000,
  });
}

/** A page whose every problem is written down: console errors, page errors, failed or refused requests. */
export interface GuardedPage {
  context: BrowserContext;
  page: Page;
  /** What went wrong so far, one line each; a test expects it to stay empty. */
  problems: string[];
  close(): Promise<void>;
}

/**
 * Opens a fresh context (empty storage) whose network reaches the gateway and nothing else: a request to
 * any other origin is aborted and recorded, as is every console error (CSP violations included), uncaught
 * page error, failed request, and HTTP status of 400 or more.
 */
export async function openGuardedPage(browser: Browser, gatewayUrl: string): Promise<GuardedPage> {
  const gateway = new URL(gatewayUrl);
  const problems: string[] = [];
  const context = await browser.newContext({ baseURL: gatewayUrl, serviceWorkers: "block" });
  await context.route(
    (url) => url.origin !== gateway.origin,
    async (route) => {
      problems.push(`request to another origin: ${route.request().url()}`);
      await route.abort("blockedbyclient");
    },
  );
  await context.routeWebSocket(
    (url) => url.host !== gateway.host,
    async (ws) => {
      problems.push(`WebSocket to another origin: ${ws.url()}`);
      await ws.close();
    },
  );
  const page = await context.newPage();
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console error: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("requestfailed", (request) =>
    problems.push(
      `request failed: ${request.method()} ${request.url()} (${request.failure()?.errorText ?? "?"})`,
    ),
  );
  page.on("response", (response) => {
    if (response.status() >= 400) problems.push(`HTTP ${response.status()}: ${response.url()}`);
  });
  return { context, page, problems, close: () => context.close() };
}
