import type { DataSource } from "typeorm";
import type { GatewayModule } from "../composition/gateway-module";
import type { EncryptionKey } from "../config/env";
import { ProviderSecretResolver } from "./provider-secret.resolver";
import { ProviderSecretService } from "./provider-secret.service";
import { SecretBox } from "./secret-box";

/** The classes of this module's resolvers (the schema is printed from them). */
export const SECRETS_RESOLVERS = [ProviderSecretResolver] as const;

export interface SecretsModule extends GatewayModule {
  readonly secrets: ProviderSecretService;
}

/** Provider keys, sealed under the configured keyring. */
export function createSecretsModule(deps: {
  db: DataSource;
  encryptionKeys: readonly EncryptionKey[];
}): SecretsModule {
  const secrets = new ProviderSecretService(deps.db, new SecretBox(deps.encryptionKeys));
  return { secrets, resolvers: [new ProviderSecretResolver(secrets)] };
}
