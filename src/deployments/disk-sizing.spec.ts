import { modelSizeFromHubInfo, modelSizeFromId, parametersFromModelId } from "../hub/model-size";
import { TrainingMethod } from "../training-configs/training-config.enums";
import { formatParameters, workspaceGbNeeded } from "./disk-sizing";

describe("parametersFromModelId", () => {
  it.each<[string, number | null]>([
    ["meta-llama/Llama-3.2-1B", 1e9],
    ["meta-llama/Llama-3.1-8B-Instruct", 8e9],
    ["TinyLlama/TinyLlama-1.1B-Chat-v1.0", 1.1e9],
    ["Qwen/Qwen2.5-1.5B-Instruct", 1.5e9],
    ["Qwen/Qwen3-0.6B", 0.6e9],
    ["google/gemma-3-270m", 270e6],
    ["HuggingFaceTB/SmolLM2-135M-Instruct", 135e6],
    ["mistralai/Mixtral-8x7B-v0.1", 56e9],
    ["meta-llama/Llama-2-70b-hf", 70e9],
    ["openai/gpt-oss-20b", 20e9],
    ["gpt2", 124e6],
    ["openai-community/gpt2-xl", 1.5e9],
    ["microsoft/phi-2", 2.7e9],
    ["TheBloke/Llama-2-7B-4bit", 7e9],
    ["google-bert/bert-base-uncased", null],
    ["acme/my-model-v2.1", null],
  ])("%s -> %p", (id, expected) => {
    const found = parametersFromModelId(id);
    if (expected === null) expect(found).toBeNull();
    else expect(found).toBeCloseTo(expected, -3);
  });
});

describe("modelSizeFromHubInfo", () => {
  it("adds the bytes of each dtype", () => {
    expect(
      modelSizeFromHubInfo({ safetensors: { parameters: { BF16: 1e9, F32: 1e6 }, total: 1.001e9 } }),
    ).toEqual({
      parameters: 1.001e9,
      downloadBytes: 2e9 + 4e6,
      source: "hub",
    });
  });

  it.each([
    null,
    {},
    { safetensors: null },
    { safetensors: { parameters: {} } },
    { safetensors: { parameters: { BF16: "x" } } },
  ])("is null without a usable safetensors summary: %p", (info) =>
    expect(modelSizeFromHubInfo(info)).toBeNull(),
  );
});

describe("workspaceGbNeeded", () => {
  const lora = { method: TrainingMethod.LORA, hyperparameters: { loraR: 16 } };
  const full = { method: TrainingMethod.FULL, hyperparameters: { loraR: 16 } };
  const size = (id: string) => modelSizeFromId(id)!;

  it.each<[string, string, typeof lora, number]>([
    // 2.2 GB of weights (+5 %, +0.5) and a few MB of adapter: small.
    ["TinyLlama LoRA fits the default 20 GB", "TinyLlama/TinyLlama-1.1B-Chat-v1.0", lora, 4],
    ["an 8B LoRA just fits 20 GB", "meta-llama/Llama-3.1-8B", lora, 20],
    ["a 70B LoRA needs the cache and a larger adapter", "meta-llama/Llama-2-70b-hf", lora, 161],
    // 2 x 1.1B x 12 bytes of checkpoints and a 2.2 GB final model.
    [
      "TinyLlama FULL keeps two checkpoints with optimizer state",
      "TinyLlama/TinyLlama-1.1B-Chat-v1.0",
      full,
      32,
    ],
    ["gpt2 FULL", "gpt2", full, 5],
  ])("%s", (_name, id, config, gb) => {
    expect(workspaceGbNeeded(size(id), config).total).toBe(gb);
  });

  it("uses the Hub's bytes for a model stored in fp32", () => {
    const fp32 = { parameters: 1e9, downloadBytes: 4e9, source: "hub" as const };
    expect(workspaceGbNeeded(fp32, lora).modelCache).toBe(5);
  });

  it("formats parameter counts", () => {
    expect([1.1e9, 8.03e9, 270e6, 124e6].map(formatParameters)).toEqual(["1.1B", "8B", "270M", "124M"]);
  });
});
