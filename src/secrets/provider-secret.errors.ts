import { AppError, ErrorCode } from "../errors/app-error";
import type { Provider } from "./provider";

/** Every error the provider-secret domain raises. */
export const secretErrors = {
  /** The user has stored no key for `provider`; `what` says what needs it ("a RunPod API key"). */
  missing: (provider: Provider, what: string): AppError =>
    new AppError(ErrorCode.PROVIDER_SECRET_MISSING, `this needs ${what}`, { provider }),
};
