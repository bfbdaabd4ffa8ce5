/**
 * How big a Hugging Face model is: its parameter count and the bytes its weights download as. From the Hub's
 * model metadata when it answers (see HubModelInfoClient), else estimated from the model id.
 */
export interface ModelSize {
  readonly parameters: number;
  /** Bytes of weights a download fetches (safetensors, by dtype); parameters x 2 (bf16) when estimated. */
  readonly downloadBytes: number;
  readonly source: "hub" | "model id";
}

/** Bytes per parameter of each safetensors dtype the Hub reports. */
const DTYPE_BYTES: Readonly<Record<string, number>> = {
  F64: 8,
  I64: 8,
  U64: 8,
  F32: 4,
  I32: 4,
  U32: 4,
  BF16: 2,
  F16: 2,
  I16: 2,
  U16: 2,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/**
 * A ModelSize from the Hub's `GET /api/models/<id>` answer: `safetensors.parameters` maps dtype to parameter
 * count. Null when the answer has no safetensors summary (older .bin-only repos). Pure.
 */
export function modelSizeFromHubInfo(info: unknown): ModelSize | null {
  const safetensors = record(record(info)?.safetensors);
  const byDtype = record(safetensors?.parameters);
  if (!byDtype) return null;
  let parameters = 0;
  let downloadBytes = 0;
  for (const [dtype, count] of Object.entries(byDtype)) {
    if (typeof count !== "number" || !Number.isFinite(count) || count < 0) continue;
    parameters += count;
    downloadBytes += count * (DTYPE_BYTES[dtype.toUpperCase()] ?? 2);
  }
  return parameters > 0 ? { parameters, downloadBytes, source: "hub" } : null;
}

/** Families whose ids carry no size, lower-case name (after the owner) to parameters. */
const KNOWN_MODELS: Readonly<Record<string, number>> = {
  distilgpt2: 82e6,
  gpt2: 124e6,
  "gpt2-medium": 355e6,
  "gpt2-large": 774e6,
  "gpt2-xl": 1.5e9,
  "phi-1_5": 1.4e9,
  "phi-2": 2.7e9,
  "phi-3-mini-4k-instruct": 3.8e9,
  "phi-3-mini-128k-instruct": 3.8e9,
  "phi-3.5-mini-instruct": 3.8e9,
  "phi-4-mini-instruct": 3.8e9,
  "phi-4": 14.7e9,
};

/** `7B`, `1.5b`, `270m`, `8x7B` (mixture of experts: counted as 8 x 7B, an overestimate), bounded by `-_./`. */
const SIZE_SUFFIX = /(?:^|[-_./])(?:(\d{1,3})x)?(\d{1,4}(?:\.\d{1,3})?)([bm])(?=$|[-_.])/gi;

/**
 * Parameters estimated from a model id: the size in its name ("Llama-3.2-1B", "Qwen2.5-1.5B-Instruct",
 * "gemma-3-270m", "Mixtral-8x7B"), else a table of known families; null when neither knows (no check is then
 * possible). The last size in the name wins ("Llama-3.1-8B" names 8B, not 3.1). Pure.
 */
export function parametersFromModelId(modelId: string): number | null {
  const name = (modelId.split("/").pop() ?? modelId).toLowerCase();
  let found: number | null = null;
  for (const match of name.matchAll(SIZE_SUFFIX)) {
    const experts = match[1] === undefined ? 1 : Number(match[1]);
    const size = Number(match[2]);
    const unit = match[3]?.toLowerCase() === "b" ? 1e9 : 1e6;
    if (size > 0) found = experts * size * unit;
  }
  return found ?? KNOWN_MODELS[name] ?? null;
}

/** A ModelSize estimated from the id alone: bf16 weights (2 bytes per parameter). Pure. */
export function modelSizeFromId(modelId: string): ModelSize | null {
  const parameters = parametersFromModelId(modelId);
  return parameters === null ? null : { parameters, downloadBytes: parameters * 2, source: "model id" };
}

function record(value: unknown): Record<string, unknown> | null {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}
