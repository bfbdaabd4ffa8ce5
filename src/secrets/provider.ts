import { registerEnumType } from "type-graphql";

/** Whose key a provider secret is. */
export enum Provider {
  /** The RunPod API key pods are created with. */
  RUNPOD = "RUNPOD",
  /** A Hugging Face Hub token, used to push the trained adapter. */
  HUGGINGFACE = "HUGGINGFACE",
}

registerEnumType(Provider, { name: "Provider" });
