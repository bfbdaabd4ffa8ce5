import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Deploys that wait for capacity (waitForCapacityMinutes): a QUEUED deployment keeps when its wait ends, when
 * the supervisor tries it next, how many tries it had, and what it needs to try again (sealed: the caller's env
 * values and the job token are secrets). The partial index is the supervisor's look-up of due retries.
 */
export class QueuedDeployments1764705600000 implements MigrationInterface {
  name = "QueuedDeployments1764705600000";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE "cloud_deployments"
        ADD "queued_until" TIMESTAMP(3) WITH TIME ZONE,
        ADD "next_launch_at" TIMESTAMP(3) WITH TIME ZONE,
        ADD "launch_attempts" integer NOT NULL DEFAULT 0,
        ADD "launch_sealed" jsonb`);
    await queryRunner.query(`
      CREATE INDEX "idx_cloud_deployments_queued" ON "cloud_deployments" ("user_id", "next_launch_at")
        WHERE "status" = 'QUEUED'`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "idx_cloud_deployments_queued"`);
    await queryRunner.query(`
      ALTER TABLE "cloud_deployments"
        DROP COLUMN "launch_sealed",
        DROP COLUMN "launch_attempts",
        DROP COLUMN "next_launch_at",
        DROP COLUMN "queued_until"`);
  }
}
