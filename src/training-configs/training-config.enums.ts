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
  valuesConfig: {
    LORA: { description: "train low-rank adapters on a frozen base" },
    QLORA: { description: "train low-rank adapters on a quantized (4-bit or 8-bit) base" },
    FULL: { description: "train every weight" },
  },
  name: "TrainingMethod",
  description: "LORA: low-rank adapters; QLORA: adapters on a 4-bit (or 8-bit) base; FULL: every weight.",
});
registerEnumType(Quantization, {
  valuesConfig: {
    NONE: { description: "unquantized weights" },
    INT8: { description: "8-bit weights" },
    INT4: { description: "4-bit weights" },
  },
  name: "Quantization",
  description: "How the base model is loaded.",
});
