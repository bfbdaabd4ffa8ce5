import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * What the deploy, stop and sync flows keep about a pod beyond its status: when it was released, a pending stop
 * request (the `stop` flag the metrics route answers), the deadlines handed to RunPod and to the trainer, and the
 * cost accumulators. Cost is kept as exact integer sums (seconds x micro-dollars per hour, GB-seconds) and
 * `actual_cost` is derived from them, so nothing is ever accrued by adding rounded or float amounts.
 */
export class PodLifecycleAndAccrual1764441600000 implements MigrationInterface {
  name = "PodLifecycleAndAccrual1764441600000";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE "cloud_deployments"
        ADD "pod_terminated_at" TIMESTAMP(3) WITH TIME ZONE,
        ADD "stop_requested_at" TIMESTAMP(3) WITH TIME ZONE,
        ADD "stop_requested_reason" text,
        ADD "terminate_after" TIMESTAMP(3) WITH TIME ZONE,
        ADD "budget_deadline" TIMESTAMP(3) WITH TIME ZONE,
        ADD "last_observed_at" TIMESTAMP(3) WITH TIME ZONE,
        ADD "pod_uptime_seconds" integer NOT NULL DEFAULT '0',
        ADD "gpu_price_seconds" bigint NOT NULL DEFAULT '0',
        ADD "running_gb_seconds" bigint NOT NULL DEFAULT '0',
        ADD "stopped_gb_seconds" bigint NOT NULL DEFAULT '0'`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE "cloud_deployments"
        DROP COLUMN "stopped_gb_seconds",
        DROP COLUMN "running_gb_seconds",
        DROP COLUMN "gpu_price_seconds",
        DROP COLUMN "pod_uptime_seconds",
        DROP COLUMN "last_observed_at",
        DROP COLUMN "budget_deadline",
        DROP COLUMN "terminate_after",
        DROP COLUMN "stop_requested_reason",
        DROP COLUMN "stop_requested_at",
        DROP COLUMN "pod_terminated_at"`);
  }
}
