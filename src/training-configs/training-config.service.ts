import type { DataSource } from "typeorm";
import { isUuid } from "../db/ids";
import { TrainingConfig } from "./training-config.entity";
import { trainingConfigErrors } from "./training-config.errors";
import { Quantization, TrainingMethod } from "./training-config.enums";
import { modelUnavailable } from "./model-availability";
import {
  HYPERPARAMETER_DEFAULTS,
  type Hyperparameters,
  type HyperparametersInput,
  type TrainingConfigInput,
} from "./training-config.types";

/** Saved training recipes, each visible to its owner only. */
export class TrainingConfigService {
  /**
   * @param localModels what pods can load when they are the simulator's local processes; null for pods that
   *   load from the Hub (see modelUnavailable)
   */
  constructor(
    private readonly db: DataSource,
    private readonly localModels: readonly string[] | null = null,
  ) {}

  list(userId: string): Promise<TrainingConfig[]> {
    return this.db
      .getRepository(TrainingConfig)
      .find({ where: { userId }, order: { createdAt: "DESC", id: "DESC" } });
  }

  /** The caller's config; another user's, or none, is NOT_FOUND alike. */
  async get(userId: string, id: string): Promise<TrainingConfig> {
    const config = isUuid(id) ? await this.db.getRepository(TrainingConfig).findOneBy({ id, userId }) : null;
    if (!config) throw trainingConfigErrors.notFound();
    return config;
  }

  async create(userId: string, input: TrainingConfigInput): Promise<TrainingConfig> {
    const repo = this.db.getRepository(TrainingConfig);
    const saved = await repo.save(repo.create({ userId, ...this.resolve(input) }));
    return repo.findOneByOrFail({ id: saved.id });
  }

  async update(userId: string, id: string, input: TrainingConfigInput): Promise<TrainingConfig> {
    const values = this.resolve(input);
    await this.get(userId, id);
    await this.db.getRepository(TrainingConfig).update({ id, userId }, values);
    return this.get(userId, id);
  }

  async delete(userId: string, id: string): Promise<boolean> {
    await this.get(userId, id);
    await this.db.getRepository(TrainingConfig).delete({ id, userId });
    return true;
  }

  /** resolveConfig, and a model these pods can load. */
  private resolve(input: TrainingConfigInput): ReturnType<typeof resolveConfig> {
    const values = resolveConfig(input);
    const unavailable = modelUnavailable(values.modelName, this.localModels);
    if (unavailable !== null) throw trainingConfigErrors.modelUnavailable(unavailable);
    return values;
  }
}

/** The stored form of an input: trimmed, defaults filled in, cross-field rules checked. */
export function resolveConfig(
  input: TrainingConfigInput,
): Omit<TrainingConfig, "id" | "userId" | "createdAt" | "updatedAt" | "user"> {
  const method = input.method ?? TrainingMethod.LORA;
  const hyperparameters = resolveHyperparameters(input.hyperparameters ?? undefined, method);
  return {
    name: input.name.trim(),
    modelName: input.modelName.trim(),
    datasetUrl: input.datasetUrl.trim(),
    method,
    hyperparameters,
  };
}

export function resolveHyperparameters(
  input: HyperparametersInput | undefined,
  method: TrainingMethod,
): Hyperparameters {
  const d = HYPERPARAMETER_DEFAULTS;
  const h: Hyperparameters = {
    epochs: input?.epochs ?? d.epochs,
    batchSize: input?.batchSize ?? d.batchSize,
    gradientAccumulationSteps: input?.gradientAccumulationSteps ?? d.gradientAccumulationSteps,
    learningRate: input?.learningRate ?? d.learningRate,
    maxSeqLength: input?.maxSeqLength ?? d.maxSeqLength,
    warmupRatio: input?.warmupRatio ?? d.warmupRatio,
    loggingSteps: input?.loggingSteps ?? d.loggingSteps,
    saveSteps: input?.saveSteps ?? d.saveSteps,
    loraR: input?.loraR ?? d.loraR,
    loraAlpha: input?.loraAlpha ?? d.loraAlpha,
    loraDropout: input?.loraDropout ?? d.loraDropout,
    targetModules: input?.targetModules ?? d.targetModules,
    quantization: input?.quantization ?? d.quantization,
    gradientCheckpointing: input?.gradientCheckpointing ?? d.gradientCheckpointing,
    evalSplit: input?.evalSplit ?? d.evalSplit,
  };
  if (method === TrainingMethod.FULL && h.quantization !== Quantization.NONE) {
    throw trainingConfigErrors.fullFineTuneQuantized();
  }
  // QLoRA is LoRA on a quantized base: without an explicit choice it is the 4-bit NF4 of the QLoRA paper.
  if (method === TrainingMethod.QLORA && h.quantization === Quantization.NONE) {
    h.quantization = Quantization.INT4;
  }
  return h;
}
