import { notFound, type AppError } from "../errors/app-error";

/** The errors of the artifacts domain. */
export const artifactErrors = {
  /** No stored result of the caller's for this job (or another user's: the two look the same). */
  notFound: (): AppError => notFound("artifact"),
};
