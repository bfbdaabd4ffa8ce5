import {
  ArrayMaxSize,
  ArrayMinSize,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  NotContains,
  ValidateNested,
} from "class-validator";
import { Field, Float, InputType, Int, ObjectType } from "type-graphql";
import { IsDatasetUrl } from "./dataset-url";
import { Quantization, TrainingMethod } from "./training-config.enums";

/** The hyperparameters a config runs with; every default written once, here. */
export const HYPERPARAMETER_DEFAULTS = {
  epochs: 1,
  batchSize: 4,
  gradientAccumulationSteps: 1,
  learningRate: 0.0002,
  maxSeqLength: 2048,
  warmupRatio: 0.03,
  loggingSteps: 10,
  saveSteps: 200,
  loraR: 16,
  loraAlpha: 32,
  loraDropout: 0.05,
  targetModules: null as string[] | null,
  quantization: Quantization.NONE,
  gradientCheckpointing: true,
  evalSplit: 0,
} as const;

/** Hugging Face repo ids: `name` or `owner/name`, letters, digits, `-`, `_`, `.`; no `--` or `..`. */
export const MODEL_ID_PATTERN = /^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,95}\/)?[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;
const MODULE_NAME_PATTERN = /^[A-Za-z0-9_.]{1,128}$/;

@ObjectType({ description: "Hyperparameters with every default filled in." })
export class Hyperparameters {
  @Field(() => Int, { description: "passes over the dataset, 1..100" }) epochs: number;
  @Field(() => Int, { description: "samples per device per step, 1..1024" }) batchSize: number;
  @Field(() => Int, { description: "steps whose gradients are summed before an update, 1..1024" })
  gradientAccumulationSteps: number;
  @Field(() => Float, { description: "peak learning rate, (0, 1]" }) learningRate: number;
  @Field(() => Int, { description: "longest sample in tokens; longer ones are truncated, 16..131072" })
  maxSeqLength: number;
  @Field(() => Float, { description: "share of the steps spent warming up the learning rate, 0..0.5" })
  warmupRatio: number;
  @Field(() => Int, { description: "report metrics every this many steps, 1..100000" }) loggingSteps: number;
  @Field(() => Int, { description: "save a checkpoint every this many steps, 1..1000000" }) saveSteps: number;
  @Field(() => Int, { description: "LoRA rank, 1..1024" }) loraR: number;
  @Field(() => Int, { description: "LoRA scaling factor, 1..4096" }) loraAlpha: number;
  @Field(() => Float, { description: "dropout on the LoRA layers, 0..0.9" }) loraDropout: number;
  @Field(() => [String], { nullable: true, description: "null: detected from the model's architecture" })
  targetModules: string[] | null;
  @Field(() => Quantization, { description: "how the base model is loaded" }) quantization: Quantization;
  @Field({ description: "recompute activations to save GPU memory" }) gradientCheckpointing: boolean;
  @Field(() => Float, { description: "share of the dataset held out for evaluation, 0..0.5" })
  evalSplit: number;
}

// Input fields are nullable with a default, as the public schema declares them: an omitted field takes the
// default, and so does an explicit null (graphql-js passes null through, the service fills it in).
@InputType({ description: "training hyperparameters; each omitted one takes its default" })
export class HyperparametersInput {
  @Field(() => Int, {
    description: "passes over the dataset, 1..100",
    nullable: true,
    defaultValue: HYPERPARAMETER_DEFAULTS.epochs,
  })
  @Min(1)
  @Max(100)
  epochs?: number | null;

  @Field(() => Int, {
    description: "samples per device per step, 1..1024",
    nullable: true,
    defaultValue: HYPERPARAMETER_DEFAULTS.batchSize,
  })
  @Min(1)
  @Max(1024)
  batchSize?: number | null;

  @Field(() => Int, {
    description: "steps whose gradients are summed before an update, 1..1024",
    nullable: true,
    defaultValue: HYPERPARAMETER_DEFAULTS.gradientAccumulationSteps,
  })
  @Min(1)
  @Max(1024)
  gradientAccumulationSteps?: number | null;

  @Field(() => Float, {
    description: "peak learning rate, 1e-9..1",
    nullable: true,
    defaultValue: HYPERPARAMETER_DEFAULTS.learningRate,
  })
  @Min(1e-9)
  @Max(1)
  learningRate?: number | null;

  @Field(() => Int, {
    description: "longest sample in tokens; longer ones are truncated, 16..131072",
    nullable: true,
    defaultValue: HYPERPARAMETER_DEFAULTS.maxSeqLength,
  })
  @Min(16)
  @Max(131072)
  maxSeqLength?: number | null;

  @Field(() => Float, {
    description: "share of the steps spent warming up the learning rate, 0..0.5",
    nullable: true,
    defaultValue: HYPERPARAMETER_DEFAULTS.warmupRatio,
  })
  @Min(0)
  @Max(0.5)
  warmupRatio?: number | null;

  @Field(() => Int, {
    description: "report metrics every this many steps, 1..100000",
    nullable: true,
    defaultValue: HYPERPARAMETER_DEFAULTS.loggingSteps,
  })
  @Min(1)
  @Max(100000)
  loggingSteps?: number | null;

  @Field(() => Int, {
    description: "save a checkpoint every this many steps, 1..1000000",
    nullable: true,
    defaultValue: HYPERPARAMETER_DEFAULTS.saveSteps,
  })
  @Min(1)
  @Max(1000000)
  saveSteps?: number | null;

  @Field(() => Int, {
    description: "LoRA rank, 1..1024",
    nullable: true,
    defaultValue: HYPERPARAMETER_DEFAULTS.loraR,
  })
  @Min(1)
  @Max(1024)
  loraR?: number | null;

  @Field(() => Int, {
    description: "LoRA scaling factor, 1..4096",
    nullable: true,
    defaultValue: HYPERPARAMETER_DEFAULTS.loraAlpha,
  })
  @Min(1)
  @Max(4096)
  loraAlpha?: number | null;

  @Field(() => Float, {
    description: "dropout on the LoRA layers, 0..0.9",
    nullable: true,
    defaultValue: HYPERPARAMETER_DEFAULTS.loraDropout,
  })
  @Min(0)
  @Max(0.9)
  loraDropout?: number | null;

  @Field(() => [String], { nullable: true, description: "null: detect from the model's architecture" })
  @ArrayMinSize(1)
  @ArrayMaxSize(64)
  @Matches(MODULE_NAME_PATTERN, {
    each: true,
    message: "each target module must be a module name (letters, digits, '_' and '.')",
  })
  targetModules?: string[] | null;

  @Field(() => Quantization, {
    description: "how the base model is loaded",
    nullable: true,
    defaultValue: HYPERPARAMETER_DEFAULTS.quantization,
  })
  quantization?: Quantization | null;

  @Field(() => Boolean, {
    description: "recompute activations to save GPU memory",
    nullable: true,
    defaultValue: HYPERPARAMETER_DEFAULTS.gradientCheckpointing,
  })
  gradientCheckpointing?: boolean | null;

  @Field(() => Float, {
    description: "share of the dataset held out for evaluation, 0..0.5",
    nullable: true,
    defaultValue: HYPERPARAMETER_DEFAULTS.evalSplit,
  })
  @Min(0)
  @Max(0.5)
  evalSplit?: number | null;
}

@InputType({ description: "a training config to save" })
export class TrainingConfigInput {
  @Field({ description: "the caller's name for it, 1..200 characters" })
  @MinLength(1, { message: "name must not be empty" })
  @MaxLength(200)
  @Matches(/\S/, { message: "name must not be blank" })
  name: string;

  @Field({ description: 'Hugging Face model id, e.g. "meta-llama/Llama-3.2-1B"' })
  @Matches(MODEL_ID_PATTERN, { message: 'modelName must be a Hugging Face model id such as "owner/name"' })
  @NotContains("--", { message: "modelName must not contain '--'" })
  @NotContains("..", { message: "modelName must not contain '..'" })
  modelName: string;

  @Field({
    description:
      "https URL of a JSON/JSONL dataset, or hf://datasets/<owner>/<name>[/<file>][@<revision>] (downloaded with the caller's HUGGINGFACE token)",
  })
  @MaxLength(2048)
  @IsDatasetUrl()
  datasetUrl: string;

  @Field(() => TrainingMethod, {
    description: "how the model is fine-tuned",
    nullable: true,
    defaultValue: TrainingMethod.LORA,
  })
  method?: TrainingMethod | null;

  @Field(() => HyperparametersInput, { description: "omitted ones take their defaults", nullable: true })
  @ValidateNested()
  hyperparameters?: HyperparametersInput | null;
}
