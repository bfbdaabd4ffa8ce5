import { notFound, type AppError } from "../errors/app-error";

/** The errors of the jobs domain. */
export const jobErrors = {
  /** No such job, or another user's: the two look the same. */
  notFound: (): AppError => notFound("training job"),
};
