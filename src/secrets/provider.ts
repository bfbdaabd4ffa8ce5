import { registerEnumType } from "type-graphql";

/** Whose key a provider secret is. */
export enum Provider {
  /** The RunPod API key pods are created with. */
  RUNPOD = "RUNPOD",
  /** A Hugging Face Hub token, used to push the trained adapter. */
  HUGGINGFACE = "HUGGINGFACE",
}

registerEnumType(Provider, {
  description: "a service the gateway uses on the caller's behalf with the caller's key",
  valuesConfig: {
    RUNPOD: { description: "RunPod, where the GPU pods run" },
    HUGGINGFACE: { description: "Hugging Face, for gated models, private datasets and pushing adapters" },
  },
  name: "Provider",
});
