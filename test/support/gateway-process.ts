import "reflect-metadata";
import { loadConfig } from "../../src/config/env";
import { createGateway, type GatewayOptions } from "../../src/server/app";
import { createLogger } from "../../src/server/logger";

/**
 * A gateway in a process of its own, configured from the environment like `npm start`, for tests that must
 * kill a gateway mid-flight. Prints "ready <url>" on stdout once it listens. Background work stays off, so the
 * only thing that can act on the upstream is the request the test sends, unless `TEST_GATEWAY_OPTIONS` (JSON:
 * `background`, `webhooks`; test-only, not a gateway setting) turns it on.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const options = JSON.parse(process.env.TEST_GATEWAY_OPTIONS ?? "{}") as Pick<
    GatewayOptions,
    "background" | "webhooks"
  >;
  const gateway = await createGateway({
    config,
    logger: createLogger("warn"),
    background: options.background ?? false,
    webhooks: options.webhooks,
  });
  const url = await gateway.listen(config.port, "127.0.0.1");
  process.stdout.write(`ready ${url}\n`);
}

void main();
