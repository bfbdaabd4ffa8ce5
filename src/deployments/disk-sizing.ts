import { TrainingMethod } from "../training-configs/training-config.enums";
import type { ModelSize } from "../hub/model-size";

const GB = 1e9;

/**
 * The disk a run needs under `/workspace` (the pod volume, or the network volume mounted there), in GB:
 *
 * - model cache: the weights as downloaded (safetensors bytes by dtype; 2 bytes per parameter when only the
 *   parameter count is known), +5 % for tokenizer and config files and the Hub client's partial files,
 *   +0.5 GB;
 * - FULL: the trainer keeps 2 checkpoints (save_total_limit 2), each with bf16 weights, their gradients and
 *   AdamW's two fp32 moments: params x (2 + 2 + 8) bytes; plus the final bf16 model, params x 2 bytes;
 * - LORA/QLORA: the adapter has about params x loraR x 0.0004 parameters (0.6 % at r = 16 over every linear
 *   layer of a Llama-style model), trained in fp32 with AdamW: 2 checkpoints x adapter x (4 + 8) bytes, plus
 *   the final adapter, adapter x 4 bytes;
 * - 0.5 GB for the dataset copy, logs and the reporter's spool.
 *
 * Rounded up to whole GB. Pure.
 */
export function workspaceGbNeeded(
  model: ModelSize,
  config: { method: TrainingMethod; hyperparameters: { loraR: number } },
): { total: number; modelCache: number; checkpoints: number } {
  const modelCache = model.downloadBytes * 1.05 + 0.5 * GB;
  let checkpoints: number;
  if (config.method === TrainingMethod.FULL) {
    checkpoints = 2 * model.parameters * (2 + 2 + 8) + model.parameters * 2;
  } else {
    const adapter = model.parameters * config.hyperparameters.loraR * 0.0004;
    checkpoints = 2 * adapter * (4 + 8) + adapter * 4;
  }
  const total = modelCache + checkpoints + 0.5 * GB;
  return {
    total: Math.ceil(total / GB),
    modelCache: Math.ceil(modelCache / GB),
    checkpoints: Math.ceil(checkpoints / GB),
  };
}

/** "1.1B", "270M": a parameter count for people. */
export function formatParameters(parameters: number): string {
  return parameters >= 1e9 ? `${Number((parameters / 1e9).toFixed(1))}B` : `${Math.round(parameters / 1e6)}M`;
}
