import type { Provider } from "../secrets/provider";
import type { ProviderSecretService } from "../secrets/provider-secret.service";
import { deploymentErrors } from "./deployment.errors";

/** The caller's key for `provider`, or PROVIDER_SECRET_MISSING saying what needs it. */
export async function requireKey(
  secrets: ProviderSecretService,
  userId: string,
  provider: Provider,
  what: string,
): Promise<string> {
  const key = await secrets.reveal(userId, provider);
  if (!key) throw deploymentErrors.secretMissing(provider, what);
  return key;
}
