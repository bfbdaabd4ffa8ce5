import { badInput, notFound, type AppError } from "../errors/app-error";

/** Every error the webhook domain raises. */
export const webhookErrors = {
  /** No webhook of the caller's has this id. */
  notFound: (): AppError => notFound("webhook"),
  /** `field` (e.g. `input.url`) is wrong; `message` says how. */
  badInput: (field: string, message: string): AppError => badInput(field, message),
};
