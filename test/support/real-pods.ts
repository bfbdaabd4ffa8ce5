import path from "node:path";
import {
  LOCAL_DATASET_URL,
  LOCAL_MODEL_ID,
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
 * A real gateway started as `RUNPOD_SIMULATOR=true RUNPOD_SIMULATOR_TRAINER=real` starts it: the built-in
 * simulator runs every pod as a local process executing the real trainer-scripts (bootstrap.sh, train.py,
 * metrics_reporter.py, artifact_upload.py) on CPU with the pod venv (created by trainer-scripts/pod-venv.sh when
 * missing; `TRAINGATE_POD_VENV` names another one), and the gateway's Hub lookups go to the simulator's Hub
 * stand-in. Background work is off: tests drive the pod supervisor by hand.
 */
export async function startRealPodGateway(options: { speed?: number } = {}): Promise<RealPodSetup> {
  const port = await freePort();
  const t = await startTestGateway({
    env: {
      RUNPOD_SIMULATOR: "true",
      RUNPOD_SIMULATOR_TRAINER: "real",
      RUNPOD_SIMULATOR_SPEED: String(options.speed ?? 10),
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
    },
    gatewayOptions: {
      background: false,
      simulator: { startupSeconds: 1, restartSeconds: 1, tickMs: 50, autoAccountPrefix: null },
    },
    port,
  });
  const sim = t.gateway.simulator;
  if (sim === undefined) throw new Error("RUNPOD_SIMULATOR=true started no simulator");
  // Reused as it is: the gateway's start made sure it exists.
  const python = await podVenvPython(trainerScriptsDir(), () => undefined);
  return {
    t,
    sim,
    python,
    hubCache: path.join(t.gateway.config.dataDir, "local-pods", "models", "hub"),
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
    close: () => t.close(),
  };
}
