/**
 * The RunPod simulator as bench/background.ts runs it: a process of its own, as RunPod is a remote service, so that
 * its work (answering every account's pod listing) never shares the event loop of the bench's load generator.
 * Pods run no trainer; they only exist, bill and answer. Keys starting with `sim_` are accounts. Prints
 * "ready <graphql url>" once it listens; exits when its bench goes away.
 */
import { startRunpodSimulator } from "../src/runpod-sim/runpod-simulator";

async function main(): Promise<void> {
  const sim = await startRunpodSimulator({
    trainer: false,
    startupSeconds: 1,
    tickMs: 1_000,
    autoAccountPrefix: "sim_",
  });
  process.stdout.write(`ready ${sim.url}\n`);
  const close = () => void sim.close().finally(() => process.exit(0));
  process.on("SIGTERM", close);
  process.on("SIGINT", close);
  process.on("disconnect", close);
}

void main();
