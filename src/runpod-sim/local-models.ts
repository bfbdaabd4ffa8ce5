import { spawn } from "node:child_process";
import { createReadStream, existsSync, statSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import { LOCAL_DATASET_URL, LOCAL_MODEL_IDS } from "../config/local-models";
import { sendJson } from "./sim-http";

/** What `local_models.py` built: the models and datasets local pods can use, by Hub id. */
export interface LocalModelManifest {
  readonly format: string;
  readonly models: readonly {
    readonly id: string;
    readonly revision: string;
    readonly parameters: number;
    readonly dtype: string;
    readonly bytes: number;
  }[];
  readonly datasets: readonly {
    readonly id: string;
    readonly files: readonly string[];
    readonly rows: number;
  }[];
}

/** The local model and dataset every local pod can train on (built by local_models.py). */
export const LOCAL_MODEL_ID = LOCAL_MODEL_IDS[0];
export { LOCAL_DATASET_URL };

/** The folder of local_models.py (beside this file in `src/`, also when running from `dist/src/`). */
function builderScript(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    for (const candidate of [
      path.join(dir, "local_models.py"),
      path.join(dir, "src", "runpod-sim", "local_models.py"),
    ]) {
      if (existsSync(candidate)) return candidate;
    }
  }
  throw new Error("runpod-sim: local_models.py not found");
}

/**
 * Builds (once; later calls reuse the folder) the tiny random-weight model, its tokenizer and the synthetic
 * dataset into `folder`, with `python` (the pod venv's: torch, transformers, tokenizers). Nothing is downloaded.
 */
export function ensureLocalModels(python: string, folder: string): Promise<LocalModelManifest> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [builderScript(), folder], {
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: process.env.HOME ?? "/tmp",
        OMP_NUM_THREADS: "1",
        TOKENIZERS_PARALLELISM: "false",
        HF_HUB_OFFLINE: "1",
        TRANSFORMERS_OFFLINE: "1",
        PYTHONDONTWRITEBYTECODE: "1",
      },
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (err = (err + chunk.toString("utf8")).slice(-4000)));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) {
        reject(new Error(`runpod-sim: building the local models failed (exit ${code}):\n${err}`));
        return;
      }
      try {
        const last = out.trim().split("\n").pop() ?? "";
        resolve(JSON.parse(last) as LocalModelManifest);
      } catch {
        reject(new Error(`runpod-sim: local_models.py printed no manifest:\n${out}\n${err}`));
      }
    });
  });
}

/**
 * A stand-in for the few Hugging Face Hub routes that concern local models, under `/hub` of the simulator:
 * - `GET /hub/api/models/<owner>/<name>`: the model's metadata (`safetensors.parameters` by dtype), which the
 *   gateway reads to size the pod's disk; 404 for any model that is not local;
 * - `GET /hub/api/datasets/<owner>/<name>/revision/<rev>`: the dataset's file list (`siblings`);
 * - `GET /hub/datasets/<owner>/<name>/resolve/<rev>/<file>`: a dataset file, as bootstrap.sh downloads it.
 * Answers false for a path it does not serve.
 */
export function serveLocalHub(
  req: IncomingMessage,
  res: ServerResponse,
  pathname: string,
  local: { manifest: LocalModelManifest; folder: string } | null,
): boolean {
  if (!pathname.startsWith("/hub/")) return false;
  const notFound = (): void => sendJson(res, 404, { error: "Repository not found" });
  req.resume();
  if (req.method !== "GET" && req.method !== "HEAD") {
    sendJson(res, 405, { error: "method not allowed" });
    return true;
  }
  const segments = pathname
    .slice("/hub/".length)
    .split("/")
    .map((s) => safeDecode(s));
  if (segments.some((s) => s === null || s === "" || s === "." || s === "..")) {
    notFound();
    return true;
  }
  const parts = segments as string[];
  if (local === null) {
    notFound();
    return true;
  }
  const { manifest, folder } = local;
  if (parts[0] === "api" && parts[1] === "models" && parts.length === 4) {
    const model = manifest.models.find((m) => m.id === `${parts[2]}/${parts[3]}`);
    if (model === undefined) return (notFound(), true);
    sendJson(res, 200, {
      id: model.id,
      sha: model.revision,
      safetensors: { parameters: { [model.dtype]: model.parameters }, total: model.parameters },
    });
    return true;
  }
  if (parts[0] === "api" && parts[1] === "datasets" && parts[4] === "revision" && parts.length === 6) {
    const dataset = manifest.datasets.find((d) => d.id === `${parts[2]}/${parts[3]}`);
    if (dataset === undefined || parts[5] !== "main") return (notFound(), true);
    sendJson(res, 200, {
      id: dataset.id,
      sha: "main",
      siblings: dataset.files.map((name) => ({
        rfilename: name,
        size: statSync(datasetFile(folder, dataset.id, name)).size,
      })),
    });
    return true;
  }
  if (parts[0] === "datasets" && parts[3] === "resolve" && parts.length >= 6) {
    const id = `${parts[1]}/${parts[2]}`;
    const name = parts.slice(5).join("/");
    const dataset = manifest.datasets.find((d) => d.id === id);
    if (dataset === undefined || parts[4] !== "main" || !dataset.files.includes(name)) {
      return (notFound(), true);
    }
    const file = datasetFile(folder, id, name);
    res.writeHead(200, {
      "content-type": "application/octet-stream",
      "content-length": String(statSync(file).size),
    });
    if (req.method === "HEAD") res.end();
    else createReadStream(file).pipe(res);
    return true;
  }
  notFound();
  return true;
}

function datasetFile(folder: string, id: string, name: string): string {
  return path.join(folder, "datasets", id.split("/")[1] ?? id, ...name.split("/"));
}

function safeDecode(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}
