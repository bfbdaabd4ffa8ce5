import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import type { EncryptionKey } from "../config/env";

/** A ciphertext and the version of the key that made it. */
export interface Sealed {
  ciphertext: string;
  keyVersion: string;
}

/**
 * AES-256-GCM encryption of provider keys under a keyring. The first key encrypts; every key decrypts the
 * rows written under it, so `ENCRYPTION_KEY` can be rotated by moving the old key to `ENCRYPTION_KEY_PREVIOUS`.
 * Format: base64(iv[12] | tag[16] | ciphertext), with the user and provider bound in as associated data so a
 * ciphertext copied to another row does not decrypt.
 */
export class SecretBox {
  constructor(private readonly keys: readonly EncryptionKey[]) {
    if (keys.length === 0) throw new Error("SecretBox needs at least one encryption key");
  }

  get currentVersion(): string {
    return this.keys[0].version;
  }

  seal(plaintext: string, context: string): Sealed {
    const key = this.keys[0];
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", key.key, iv);
    cipher.setAAD(Buffer.from(context, "utf8"));
    const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return {
      ciphertext: Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64"),
      keyVersion: key.version,
    };
  }

  open(sealed: Sealed, context: string): string {
    const key = this.keys.find((k) => k.version === sealed.keyVersion);
    if (!key) {
      throw new Error(`no encryption key with version ${sealed.keyVersion} is configured`);
    }
    const raw = Buffer.from(sealed.ciphertext, "base64");
    const decipher = createDecipheriv("aes-256-gcm", key.key, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(context, "utf8"));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
  }

  /** Whether a row should be re-encrypted under the current key. */
  isStale(keyVersion: string): boolean {
    return keyVersion !== this.currentVersion;
  }
}
