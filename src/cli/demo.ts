import "reflect-metadata";
import { randomBytes } from "node:crypto";
import { signDevToken } from "../auth/jwt";
import { LOCAL_DATASET_URL, LOCAL_MODEL_ID } from "../runpod-sim/runpod-simulator";
import { ConfigError, demoEnvironment, loadConfig } from "../config/env";
import { Provider } from "../secrets/provider";
import { startGateway } from "../server/start";
import { createLogger } from "../server/logger";

const DEMO_USER = "demo";
const DEMO_CONFIG = "TinyLlama chat LoRA (demo)";
const REAL_DEMO_CONFIG = "tiny local llama, real trainer (demo)";

/**
 * `npm run demo`: the gateway with the built-in RunPod simulator, a demo user holding a (simulated) RunPod key
 * and a saved training config, and everything needed to try it printed on the terminal.
 *
 * `npm run demo -- --real-trainer`: the simulator's pods are local processes running the real trainer-scripts
 * on CPU (`RUNPOD_SIMULATOR_TRAINER=real`), training a tiny local model whose loss falls on the dashboard in
 * well under a minute; the pod venv is created first when it is missing (pip downloads, once).
 */
async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== "--real-trainer");
  if (unknown.length > 0)
    throw new Error(`npm run demo: unknown argument ${unknown.join(" ")} (try --real-trainer)`);
  const realTrainer = args.includes("--real-trainer");
  const config = loadConfig(
    demoEnvironment({ ...process.env, ...(realTrainer ? { RUNPOD_SIMULATOR_TRAINER: "real" } : {}) }),
  );
  if (config.jwt.kind !== "secret") throw new Error("the demo signs its own token: unset JWKS_URL");
  const logger = createLogger(config.logLevel === "info" ? "warn" : config.logLevel);
  const gateway = await startGateway({
    config,
    logger,
    // 600 steps, a point every 5: about two minutes of live curve at the default 5x speed.
    simulator: { trainer: { stepsPerEpoch: 300 } },
  });
  const url = await gateway.listen();

  const { users, secrets, trainingConfigs } = gateway.services;
  await users.ensure(DEMO_USER);
  if (!(await secrets.reveal(DEMO_USER, Provider.RUNPOD))) {
    await secrets.set(DEMO_USER, {
      provider: Provider.RUNPOD,
      apiKey: `sim_${randomBytes(12).toString("hex")}`,
      description: "simulated RunPod account (npm run demo)",
    });
  }
  const real = config.simulatorTrainer === "real";
  const configName = real ? REAL_DEMO_CONFIG : DEMO_CONFIG;
  const existing = (await trainingConfigs.list(DEMO_USER)).find((c) => c.name === configName);
  const trainingConfig =
    existing ??
    (await trainingConfigs.create(
      DEMO_USER,
      real
        ? {
            name: REAL_DEMO_CONFIG,
            modelName: LOCAL_MODEL_ID,
            datasetUrl: LOCAL_DATASET_URL,
            // 100 rows in batches of 2 for 20 epochs: 1 000 steps, some twenty seconds on one CPU core.
            hyperparameters: {
              epochs: 20,
              batchSize: 2,
              loggingSteps: 10,
              saveSteps: 500,
              maxSeqLength: 64,
              loraR: 8,
              loraAlpha: 16,
              learningRate: 0.005,
              warmupRatio: 0,
              gradientCheckpointing: false,
            },
          }
        : {
            name: DEMO_CONFIG,
            modelName: "TinyLlama/TinyLlama-1.1B-Chat-v1.0",
            datasetUrl: "https://raw.githubusercontent.com/tatsu-lab/stanford_alpaca/main/alpaca_data.json",
            hyperparameters: { epochs: 2, loggingSteps: 5, learningRate: 0.0002 },
          },
    ));
  const token = await signDevToken(config.jwt.secret, DEMO_USER, 30 * 86400, {
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
  });

  const mutation = `mutation {
  deployTraining(input: { trainingConfigId: "${trainingConfig.id}", gpuType: RTX_A4000, fallbackGpuTypes: [RTX_A5000], budgetLimitUsd: 0.05 }) {
    id status podId costPerHourUsd job { id }
  }
}`;
  process.stdout.write(
    [
      "",
      `TrainGate demo is running (RunPod simulator at ${gateway.simulator?.speedFactor ?? 1}x speed; data in ${config.dataDir}).`,
      real
        ? `Pods run the real trainer on this machine's CPU (${LOCAL_MODEL_ID} on ${LOCAL_DATASET_URL}); ` +
          "the result downloads from the dashboard when the run completes."
        : "Pods run a simulated trainer (npm run demo -- --real-trainer runs the real one on CPU).",
      "",
      `  Playground:  ${url}/playground`,
      `  Dashboard:   ${url}/dashboard`,
      `  GraphQL:     ${url}/graphql`,
      "",
      "Token for the demo user (paste into the dashboard, or as the playground's Authorization header):",
      "",
      `  ${token}`,
      "",
      `Playground headers: {"Authorization": "Bearer ${token}"}`,
      "",
      real
        ? "A deployment to paste into the playground (a $0.05 budget, plenty for a half-minute run):"
        : "A deployment to paste into the playground (a $0.05 budget: the run stops itself at its budget):",
      "",
      mutation,
      "",
      "Ctrl-C stops the demo.",
      "",
    ].join("\n"),
  );

  const stop = () => {
    void gateway.close().then(() => process.exit(0));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
