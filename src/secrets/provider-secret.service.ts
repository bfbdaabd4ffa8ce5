import type { DataSource } from "typeorm";
import { ProviderSecret } from "./provider-secret.entity";
import { secretErrors } from "./provider-secret.errors";
import type { Provider } from "./provider";
import type { ProviderSecretInput } from "./provider-secret.types";
import type { SecretBox, Sealed } from "./secret-box";

/**
 * Provider keys, encrypted with AES-256-GCM under the configured keyring. Keys go in through `set` and come
 * out only through `reveal`, for the upstream call that needs them; nothing else ever sees more than last4.
 */
export class ProviderSecretService {
  constructor(
    private readonly db: DataSource,
    private readonly box: SecretBox,
  ) {}

  list(userId: string): Promise<ProviderSecret[]> {
    return this.db.getRepository(ProviderSecret).find({ where: { userId }, order: { provider: "ASC" } });
  }

  async set(userId: string, input: ProviderSecretInput): Promise<ProviderSecret> {
    const apiKey = input.apiKey.trim();
    const sealed = this.box.seal(apiKey, aad(userId, input.provider));
    const values = {
      userId,
      provider: input.provider,
      apiKeyEncrypted: sealed.ciphertext,
      keyVersion: sealed.keyVersion,
      last4: apiKey.slice(-4),
      description: input.description ?? null,
    };
    await this.db
      .createQueryBuilder()
      .insert()
      .into(ProviderSecret)
      .values(values)
      .orUpdate(
        ["api_key_encrypted", "key_version", "last4", "description", "updated_at"],
        ["user_id", "provider"],
      )
      .execute();
    return this.db.getRepository(ProviderSecret).findOneByOrFail({ userId, provider: input.provider });
  }

  async delete(userId: string, provider: Provider): Promise<boolean> {
    const result = await this.db.getRepository(ProviderSecret).delete({ userId, provider });
    return (result.affected ?? 0) > 0;
  }

  /**
   * The plaintext key, for an upstream call. A row still sealed under an older key is re-sealed under the
   * current one on the way, so a rotation completes as keys are used.
   */
  async reveal(userId: string, provider: Provider): Promise<string | undefined> {
    const repo = this.db.getRepository(ProviderSecret);
    const row = await repo.findOneBy({ userId, provider });
    if (!row) return undefined;
    const context = aad(userId, provider);
    const apiKey = this.box.open({ ciphertext: row.apiKeyEncrypted, keyVersion: row.keyVersion }, context);
    if (this.box.isStale(row.keyVersion)) {
      const sealed = this.box.seal(apiKey, context);
      await repo.update(
        { id: row.id, keyVersion: row.keyVersion },
        { apiKeyEncrypted: sealed.ciphertext, keyVersion: sealed.keyVersion },
      );
    }
    return apiKey;
  }

  /**
   * Seals something else of the user's that must be kept for later and holds secrets (a queued deploy's env
   * values), under the same keyring; `purpose` (say `deployment:<id>`) binds it to where it is kept.
   */
  seal(userId: string, purpose: string, plaintext: string): Sealed {
    return this.box.seal(plaintext, aad(userId, purpose));
  }

  /** Opens what `seal` sealed for the same user and purpose. */
  open(userId: string, purpose: string, sealed: Sealed): string {
    return this.box.open(sealed, aad(userId, purpose));
  }

  /** The plaintext key, or PROVIDER_SECRET_MISSING saying that this needs `what` ("a RunPod API key"). */
  async require(userId: string, provider: Provider, what: string): Promise<string> {
    const key = await this.reveal(userId, provider);
    if (!key) throw secretErrors.missing(provider, what);
    return key;
  }

  /** Re-seals every row not under the current key; returns how many were rewritten. */
  async reencryptAll(): Promise<number> {
    const repo = this.db.getRepository(ProviderSecret);
    let count = 0;
    for (const row of await repo.find()) {
      if (!this.box.isStale(row.keyVersion)) continue;
      await this.reveal(row.userId, row.provider);
      count += 1;
    }
    return count;
  }
}

/** Binds a ciphertext to its row's owner and provider (or `seal`'s purpose, which is never a provider name). */
function aad(userId: string, provider: Provider | string): string {
  return `${userId}\u0000${provider}`;
}
