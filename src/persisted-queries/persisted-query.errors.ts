import { AppError, ErrorCode } from "../errors/app-error";

/** Why `PERSISTED_QUERIES=only` refuses an operation: BAD_REQUEST, like every request refused before it runs. */
export const persistedQueryErrors = {
  /** A hash, or the hash of a document sent in full, that is not in the registry. */
  unregistered: (sha256: string): AppError =>
    new AppError(
      ErrorCode.BAD_REQUEST,
      `this gateway runs registered documents only, and none has the SHA-256 ${sha256} ` +
        "(register it with `npm run persisted:register`)",
    ),
  /** A `persistedQuery.sha256Hash` that is no SHA-256 at all (not echoed: it may be anything). */
  malformedHash: (): AppError =>
    new AppError(ErrorCode.BAD_REQUEST, "extensions.persistedQuery.sha256Hash must be 64 hex digits"),
};
