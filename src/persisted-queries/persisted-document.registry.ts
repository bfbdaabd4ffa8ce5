import { createHash } from "node:crypto";
import type { DataSource } from "typeorm";
import { PersistedDocument } from "./persisted-document.entity";

/** The SHA-256 of a document's exact text, in hex: the hash of the automatic-persisted-query protocol. */
export function documentHash(document: string): string {
  return createHash("sha256").update(document).digest("hex");
}

/** A document to register: its exact text, its operation's name, and where it was found. */
export interface DocumentToRegister {
  document: string;
  operationName: string | null;
  source: string;
}

/**
 * The registered documents of `PERSISTED_QUERIES=only`, shared by every replica through the database. A
 * registered hash always names the same text, so what a replica has found it keeps (bounded); a hash it has
 * not found is asked again, so a document registered while the gateway runs is seen at once.
 */
export class PersistedDocumentRegistry {
  private readonly found = new Map<string, string>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly maxRemembered = 1_000,
  ) {}

  /** The registered document with this hash, or undefined. */
  async document(sha256: string): Promise<string | undefined> {
    const remembered = this.found.get(sha256);
    if (remembered !== undefined) return remembered;
    const row = await this.dataSource
      .getRepository(PersistedDocument)
      .findOne({ where: { sha256 }, select: { sha256: true, document: true } });
    if (!row) return undefined;
    if (this.found.size >= this.maxRemembered) this.found.delete(this.found.keys().next().value as string);
    this.found.set(sha256, row.document);
    return row.document;
  }

  /**
   * Registers the documents (each once, however often it is given); answers the hashes that were new. Running
   * it again with the same documents changes nothing.
   */
  async register(documents: readonly DocumentToRegister[]): Promise<string[]> {
    const rows = new Map(documents.map((doc) => [documentHash(doc.document), doc]));
    if (rows.size === 0) return [];
    const inserted = await this.dataSource
      .createQueryBuilder()
      .insert()
      .into(PersistedDocument)
      .values([...rows].map(([sha256, doc]) => ({ sha256, ...doc })))
      .orIgnore()
      .returning(["sha256"])
      .execute();
    return (inserted.raw as { sha256: string }[]).map((row) => row.sha256);
  }
}
