import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Results uploaded to the gateway (`PUT /api/training/jobs/:jobId/artifact`): one row per job, its bytes in a
 * file under DATA_DIR/artifacts (embedded) or a PostgreSQL large object (production), named by `ref`.
 */
export class Artifacts1764527400000 implements MigrationInterface {
  name = "Artifacts1764527400000";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "artifacts" (
        "job_id" uuid NOT NULL,
        "user_id" text NOT NULL,
        "storage" text NOT NULL,
        "ref" text NOT NULL,
        "size_bytes" bigint,
        "received_bytes" bigint NOT NULL DEFAULT '0',
        "sha256" text,
        "files" jsonb,
        "complete" boolean NOT NULL DEFAULT false,
        "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "pk_artifacts" PRIMARY KEY ("job_id"),
        CONSTRAINT "fk_artifacts_job" FOREIGN KEY ("job_id") REFERENCES "training_jobs"("id") ON DELETE CASCADE
      )`);
    await queryRunner.query(`CREATE INDEX "idx_artifacts_updated" ON "artifacts" ("updated_at")`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "artifacts"`);
  }
}
