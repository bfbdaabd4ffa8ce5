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
  @Field(() => Int) epochs: number;
  @Field(() => Int) batchSize: number;
  @Field(() => Int) gradientAccumulationSteps: number;
  @Field(() => Float) learningRate: number;
  @Field(() => Int) maxSeqLength: number;
  @Field(() => Float) warmupRatio: number;
  @Field(() => Int) loggingSteps: number;
  @Field(() => Int) saveSteps: number;
  @Field(() => Int) loraR: number;
  @Field(() => Int) loraAlpha: number;
  @Field(() => Float) loraDropout: number;
  @Field(() => [String], { nullable: true, description: "null: detected from the model's architecture" })
  targetModules: string[] | null;
  @Field(() => Quantization) quantization: Quantization;
  @Field() gradientCheckpointing: boolean;
  @Field(() => Float) evalSplit: number;
}

// Input fields are nullable with a default, as the public schema declares them: an omitted field takes the
// default, and so does an explicit null (graphql-js passes null through, the service fills it in).
@InputType()
export class HyperparametersInput {
  @Field(() => Int, { nullable: true, defaultValue: HYPERPARAMETER_DEFAULTS.epochs })
  @Min(1)
  @Max(100)
  epochs?: number | null;

  @Field(() => Int, { nullable: true, defaultValue: HYPERPARAMETER_DEFAULTS.batchSize })
  @Min(1)
  @Max(1024)
  batchSize?: number | null;

  @Field(() => Int, { nullable: true, defaultValue: HYPERPARAMETER_DEFAULTS.gradientAccumulationSteps })
  @Min(1)
  @Max(1024)
  gradientAccumulationSteps?: number | null;

  @Field(() => Float, { nullable: true, defaultValue: HYPERPARAMETER_DEFAULTS.learningRate })
  @Min(1e-9)
  @Max(1)
  learningRate?: number | null;

  @Field(() => Int, { nullable: true, defaultValue: HYPERPARAMETER_DEFAULTS.maxSeqLength })
  @Min(16)
  @Max(131072)
  maxSeqLength?: number | null;

  @Field(() => Float, { nullable: true, defaultValue: HYPERPARAMETER_DEFAULTS.warmupRatio })
  @Min(0)
  @Max(0.5)
  warmupRatio?: number | null;

  @Field(() => Int, { nullable: true, defaultValue: HYPERPARAMETER_DEFAULTS.loggingSteps })
  @Min(1)
  @Max(100000)
  loggingSteps?: number | null;

  @Field(() => Int, { nullable: true, defaultValue: HYPERPARAMETER_DEFAULTS.saveSteps })
  @Min(1)
  @Max(1000000)
  saveSteps?: number | null;

  @Field(() => Int, { nullable: true, defaultValue: HYPERPARAMETER_DEFAULTS.loraR })
  @Min(1)
  @Max(1024)
  loraR?: number | null;

  @Field(() => Int, { nullable: true, defaultValue: HYPERPARAMETER_DEFAULTS.loraAlpha })
  @Min(1)
  @Max(4096)
  loraAlpha?: number | null;

  @Field(() => Float, { nullable: true, defaultValue: HYPERPARAMETER_DEFAULTS.loraDropout })
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

  @Field(() => Quantization, { nullable: true, defaultValue: HYPERPARAMETER_DEFAULTS.quantization })
  quantization?: Quantization | null;

  @Field(() => Boolean, { nullable: true, defaultValue: HYPERPARAMETER_DEFAULTS.gradientCheckpointing })
  gradientCheckpointing?: boolean | null;

  @Field(() => Float, { nullable: true, defaultValue: HYPERPARAMETER_DEFAULTS.evalSplit })
  @Min(0)
  @Max(0.5)
  evalSplit?: number | null;
}

@InputType()
export class TrainingConfigInput {
  @Field()
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

  @Field(() => TrainingMethod, { nullable: true, defaultValue: TrainingMethod.LORA })
  method?: TrainingMethod | null;

  @Field(() => HyperparametersInput, { nullable: true })
  @ValidateNested()
  hyperparameters?: HyperparametersInput | null;
}
