import { badInput, notFound, type AppError } from "../errors/app-error";

/** Every error the training-config domain raises. */
export const trainingConfigErrors = {
  /** No such config, or another user's: both answer alike, so ids cannot be probed. */
  notFound: (): AppError => notFound("training config"),

  /** A model the gateway's pods cannot load (see modelUnavailable). */
  modelUnavailable: (reason: string): AppError => badInput("input.modelName", reason),

  /** A FULL fine-tune asked for a quantized base model. */
  fullFineTuneQuantized: (): AppError =>
    badInput(
      "input.hyperparameters.quantization",
      "a FULL fine-tune cannot train a quantized model; use NONE",
    ),
};
