import { startTestGateway, type TestGateway } from "./gateway";
import { freePort } from "./simulated";

/**
 * A real gateway as `npm run demo` runs it: the built-in RunPod simulator, whose simulated trainer posts real
 * metrics (40 steps an epoch, 50x faster than real time), background work on, and `user` holding a simulated
 * RunPod key (`simKey`).
 */
export async function startDemoGateway(user: string, simKey: string): Promise<TestGateway> {
  const port = await freePort();
  const t = await startTestGateway({
    env: {
      RUNPOD_SIMULATOR: "true",
      RUNPOD_SIMULATOR_SPEED: "50",
      PORT: String(port),
      // The simulated pods post their metrics here: it must be the gateway's own address.
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      SYNC_INTERVAL_MS: "1000",
      WATCHDOG_INTERVAL_MS: "1000",
    },
    gatewayOptions: { background: true, simulator: { trainer: { stepsPerEpoch: 40 } } },
    port,
  });
  const secret = await t.gql(
    user,
    `mutation($k: String!) { setProviderSecret(input: { provider: RUNPOD, apiKey: $k }) { last4 } }`,
    { k: simKey },
  );
  if (secret.errors) {
    await t.close();
    throw new Error(JSON.stringify(secret.errors));
  }
  return t;
}
