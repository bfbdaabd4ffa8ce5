import { Column, CreateDateColumn, Entity, PrimaryColumn } from "typeorm";

/**
 * A GraphQL document registered for `PERSISTED_QUERIES=only` (the safelist), by the SHA-256 of its exact text
 * (hex, what the automatic-persisted-query protocol sends as `sha256Hash`). Rows are written by
 * `npm run persisted:register` and never change: the same text always has the same hash.
 */
@Entity("persisted_documents")
export class PersistedDocument {
  @PrimaryColumn("text", { primaryKeyConstraintName: "pk_persisted_documents" })
  sha256: string;

  @Column("text")
  document: string;

  /** The name of the document's operation, for people reading the registry. */
  @Column("text", { nullable: true })
  operationName: string | null;

  /** Where the document was found (a file, relative to the repository). */
  @Column("text")
  source: string;

  @CreateDateColumn({ type: "timestamptz", precision: 3 })
  createdAt: Date;
}
