import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  LOCAL_DATASET_URL,
  LOCAL_MODEL_ID,
  startRunpodSimulator,
  type RunpodSimulator,
} from "../../src/runpod-sim/runpod-simulator";
import { podVenvPython } from "../../src/runpod-sim/local-pod";
import { trainerScriptsDir } from "../../src/trainer/pod-bootstrap";
import { startTestGateway, type TestGateway } from "./gateway";
import { freePort } from "./simulated";

export interface RealPodSetup {
  t: TestGateway;
  sim: RunpodSimulator;
  /** The pod venv's Python (torch, transformers, peft). */
  python: string;
  /** The hub cache holding the local models (HF_HUB_CACHE for loading them offline). */
  hubCache: string;
  /** Registers a simulator account and stores its key as `user`'s RunPod secret. */
  withRunpodKey(user: string): Promise<string>;
  /** A saved training config of `user` on the local model and dataset; returns its id. */
  newConfig(user: string, hyperparameters?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

/**
 * A real gateway whose upstream is a RunPod simulator running every pod as a local process: the real
 * trainer-scripts (bootstrap.sh, train.py, metrics_reporter.py, artifact_upload.py) on CPU with the pod venv,
 * which is created here when missing (trainer-scripts/pod-venv.sh). The gateway's Hub lookups go to the
 * simulator's Hub stand-in, as `RUNPOD_SIMULATOR_TRAINER=real` sets them up.
 */
export async function startRealPodGateway(
  options: { speedFactor?: number; killGraceMs?: number; env?: Record<string, string> } = {},
): Promise<RealPodSetup> {
  const python = await podVenvPython(trainerScriptsDir(), () => undefined);
  const root = mkdtempSync(path.join(os.tmpdir(), "traingate-real-pods-"));
  const sim = await startRunpodSimulator({
    speedFactor: options.speedFactor ?? 10,
    startupSeconds: 1,
    restartSeconds: 1,
    tickMs: 50,
    autoAccountPrefix: null,
    localPods: {
      python,
      root,
      killGraceMs: options.killGraceMs ?? 20_000,
      env: {
        TRAINGATE_METRICS_FLUSH_SECONDS: "0.5",
        TRAINGATE_RETRY_BASE_SECONDS: "0.2",
        TRAINGATE_HTTP_TIMEOUT: "10",
      },
    },
  });
  const port = await freePort();
  let t: TestGateway;
  try {
    t = await startTestGateway({
      env: {
        RUNPOD_API_URL: sim.url,
        PORT: String(port),
        PUBLIC_URL: `http://127.0.0.1:${port}`,
        HF_ENDPOINT: sim.hubUrl,
        ...options.env,
      },
      gatewayOptions: { background: false },
      port,
    });
  } catch (error) {
    await sim.close();
    throw error;
  }
  return {
    t,
    sim,
    python,
    hubCache: path.join(root, "models", "hub"),
    async withRunpodKey(user) {
      const { apiKey } = sim.addAccount();
      const res = await t.gql(
        user,
        `mutation($k: String!) { setProviderSecret(input: { provider: RUNPOD, apiKey: $k }) { last4 } }`,
        { k: apiKey },
      );
      if (res.errors) throw new Error(JSON.stringify(res.errors));
      return apiKey;
    },
    async newConfig(user, hyperparameters = {}) {
      const res = await t.gql<{ createTrainingConfig: { id: string } }>(
        user,
        `mutation($input: TrainingConfigInput!) { createTrainingConfig(input: $input) { id } }`,
        {
          input: {
            name: "tiny local llama",
            modelName: LOCAL_MODEL_ID,
            datasetUrl: LOCAL_DATASET_URL,
            method: "LORA",
            hyperparameters: {
              epochs: 2,
              batchSize: 4,
              loggingSteps: 2,
              saveSteps: 10,
              maxSeqLength: 64,
              loraR: 8,
              loraAlpha: 16,
              learningRate: 0.01,
              warmupRatio: 0,
              gradientCheckpointing: false,
              ...hyperparameters,
            },
          },
        },
      );
      if (!res.data) throw new Error(JSON.stringify(res.errors));
      return res.data.createTrainingConfig.id;
    },
    async close() {
      await t.close();
      await sim.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
