import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import type { Hyperparameters } from "../training-configs/training-config.types";
import type { TrainingMethod } from "../training-configs/training-config.enums";
import { tarBuffer } from "./tar";

/** Where the trainer scripts are unpacked on the pod. */
export const TRAINER_HOME = "/opt/traingate";

/** The files of `trainer-scripts/` a pod needs (tests and docs stay home). */
const TRAINER_FILES = [
  { name: "bootstrap.sh", mode: 0o755 },
  { name: "train.py", mode: 0o755 },
  { name: "metrics_reporter.py", mode: 0o644 },
  { name: "hub_push.py", mode: 0o755 },
  { name: "artifact_upload.py", mode: 0o755 },
  // The pinned pod Python stack bootstrap.sh installs.
  { name: "requirements.txt", mode: 0o644 },
] as const;

/**
 * Every variable the gateway sets in a pod's environment, besides `HF_TOKEN` (set when the caller has a
 * Hugging Face token). RunPod takes at most 50 variables per pod, these included.
 */
export const GATEWAY_ENV_NAMES = [
  "JOB_ID",
  "JOB_TOKEN",
  "METRICS_API_URL",
  "TRAINGATE_DEPLOYMENT_ID",
  "BUDGET_DEADLINE",
  "TRAINGATE_CONFIG_B64",
  "TRAINGATE_HOME",
  "TRAINGATE_BUNDLE_B64",
  "TRAINGATE_GPU_COUNT",
] as const;

/**
 * The container's command. It only unpacks the bundle from the environment and runs the bootstrap, so no user
 * value ever appears in shell text: everything the scripts need travels in environment variables.
 */
export const POD_DOCKER_ARGS =
  `bash -c 'set -e; mkdir -p ${TRAINER_HOME}; ` +
  `printf %s "$TRAINGATE_BUNDLE_B64" | base64 -d | tar -xzf - -C ${TRAINER_HOME}; ` +
  `exec bash ${TRAINER_HOME}/bootstrap.sh'`;

/**
 * What the pod does once training is over and its result is delivered: end itself (TERMINATE), or stop and keep
 * its disk for download (STOP).
 */
export type PodCompletionAction = "TERMINATE" | "STOP";

/** The job configuration the trainer reads (TRAINGATE_CONFIG_B64), as trainer-scripts/README.md describes it. */
export interface TrainerConfig {
  modelName: string;
  datasetUrl: string;
  method: TrainingMethod;
  hyperparameters: Hyperparameters;
  output: {
    hubRepoId: string | null;
    hubPrivate: boolean;
    networkVolumeId: string | null;
    /** Upload output/ to the gateway (`PUT $METRICS_API_URL/$JOB_ID/artifact`). */
    gateway: boolean;
    onComplete: PodCompletionAction;
  };
}

export interface PodRenderInput {
  jobId: string;
  jobToken: string;
  deploymentId: string;
  metricsApiUrl: string;
  /** The trainer checkpoints and stops on its own before this instant. */
  budgetDeadline: Date;
  config: TrainerConfig;
  /** GPUs in the pod; above 1 the bootstrap launches one trainer process per GPU (torchrun). */
  gpuCount: number;
  /** The caller's HUGGINGFACE key when they saved one (gated models and datasets, Hub pushes), nowhere else. */
  hfToken?: string;
  /** The caller's own variables (names already validated). */
  userEnv: Readonly<Record<string, string>>;
}

/** A pod's command and environment for one training job. */
export async function renderPod(
  input: PodRenderInput,
): Promise<{ dockerArgs: string; env: Record<string, string> }> {
  const env: Record<(typeof GATEWAY_ENV_NAMES)[number], string> & Record<string, string> = {
    ...input.userEnv,
    JOB_ID: input.jobId,
    JOB_TOKEN: input.jobToken,
    METRICS_API_URL: input.metricsApiUrl,
    TRAINGATE_DEPLOYMENT_ID: input.deploymentId,
    BUDGET_DEADLINE: input.budgetDeadline.toISOString().replace(/\.\d{3}Z$/, "Z"),
    TRAINGATE_CONFIG_B64: Buffer.from(JSON.stringify(input.config), "utf8").toString("base64"),
    TRAINGATE_HOME: TRAINER_HOME,
    TRAINGATE_BUNDLE_B64: await trainerBundle(),
    TRAINGATE_GPU_COUNT: String(input.gpuCount),
  };
  if (input.hfToken) env.HF_TOKEN = input.hfToken;
  return { dockerArgs: POD_DOCKER_ARGS, env };
}

let bundle: Promise<string> | undefined;

/** gzip(tar(trainer scripts)), base64: built once per process from the repository's `trainer-scripts/`. */
export function trainerBundle(): Promise<string> {
  if (bundle === undefined) {
    const dir = trainerScriptsDir();
    const entries = TRAINER_FILES.map((file) => ({
      name: file.name,
      mode: file.mode,
      content: readFileSync(path.join(dir, file.name)),
    }));
    bundle = tarBuffer(entries).then((archive) => gzipSync(archive, { level: 9 }).toString("base64"));
  }
  return bundle;
}

/** `trainer-scripts/` of this checkout, found from here whether running from `src/` or `dist/src/`. */
export function trainerScriptsDir(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const candidate = path.join(dir, "trainer-scripts");
    if (existsSync(path.join(candidate, "bootstrap.sh"))) return candidate;
  }
  throw new Error("trainer-scripts/ not found beside the gateway");
}
