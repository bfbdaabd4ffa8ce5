import { registerEnumType } from "type-graphql";

export enum TrainingMethod {
  LORA = "LORA",
  QLORA = "QLORA",
  FULL = "FULL",
}

export enum Quantization {
  NONE = "NONE",
  INT8 = "INT8",
  INT4 = "INT4",
}

registerEnumType(TrainingMethod, {
  name: "TrainingMethod",
  description: "LORA: low-rank adapters; QLORA: adapters on a 4-bit (or 8-bit) base; FULL: every weight.",
});
registerEnumType(Quantization, { name: "Quantization", description: "How the base model is loaded." });
