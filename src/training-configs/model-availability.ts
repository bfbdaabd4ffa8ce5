import { LOCAL_MODEL_IDS } from "../config/local-models";

/**
 * Why this gateway's pods cannot train `modelName`, or null when they can. `localModels` is what the pods can
 * load when they are the built-in simulator's local processes (`RUNPOD_SIMULATOR=true` with
 * `RUNPOD_SIMULATOR_TRAINER=real`), which run offline: any other model is refused there. Null means pods load
 * from the Hugging Face Hub (RunPod's, or the simulated trainer's): a local model is refused there, since it
 * exists only where the simulator's Hub stand-in serves it. The local ids are compared without case, as the Hub
 * resolves repo ids.
 */
export function modelUnavailable(modelName: string, localModels: readonly string[] | null): string | null {
  const name = modelName.trim();
  if (localModels !== null) {
    if (localModels.includes(name)) return null;
    return (
      `local pods (RUNPOD_SIMULATOR_TRAINER=real) run offline and can train only the local models: ` +
      `${localModels.join(", ") || "none were built"}; ${name} cannot be loaded there`
    );
  }
  const lower = name.toLowerCase();
  if (!LOCAL_MODEL_IDS.some((id) => id.toLowerCase() === lower)) return null;
  return (
    `${name} is a local model of the RunPod simulator: only its local pods (RUNPOD_SIMULATOR=true with ` +
    "RUNPOD_SIMULATOR_TRAINER=real) can train it; name a model on the Hugging Face Hub"
  );
}
