import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * The registry of `PERSISTED_QUERIES=only`: the documents the gateway may run, by the SHA-256 of their exact text
 * (`npm run persisted:register` writes them). In the database so that every replica sees the same safelist.
 */
export class PersistedDocuments1764703800000 implements MigrationInterface {
  name = "PersistedDocuments1764703800000";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "persisted_documents" (
        "sha256" text NOT NULL,
        "document" text NOT NULL,
        "operation_name" text,
        "source" text NOT NULL,
        "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "pk_persisted_documents" PRIMARY KEY ("sha256")
      )`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "persisted_documents"`);
  }
}
