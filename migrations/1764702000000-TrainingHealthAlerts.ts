import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Training-health alerts:
 * - `cloud_deployments.stop_on_nan` / `stop_after_stall_minutes`: the deployment's health actions (deploy input
 *   `health`); rows made before them get the defaults.
 * - `training_metrics.non_finite`: the trainer sent NaN or an infinity for the point's loss, eval_loss or
 *   grad_norm (stored as null).
 * - `training_alerts`: each raised alert; the primary key makes each kind fire at most once per deployment,
 *   whichever replica or restart sees the condition first.
 */
export class TrainingHealthAlerts1764702000000 implements MigrationInterface {
  name = "TrainingHealthAlerts1764702000000";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "cloud_deployments" ADD "stop_on_nan" boolean NOT NULL DEFAULT true,
       ADD "stop_after_stall_minutes" integer NOT NULL DEFAULT 30`,
    );
    await queryRunner.query(`ALTER TABLE "training_metrics" ADD "non_finite" boolean NOT NULL DEFAULT false`);
    await queryRunner.query(`
      CREATE TABLE "training_alerts" (
        "deployment_id" uuid NOT NULL,
        "kind" text NOT NULL,
        "step" integer,
        "message" text NOT NULL,
        "action" text,
        "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "pk_training_alerts" PRIMARY KEY ("deployment_id", "kind"),
        CONSTRAINT "fk_training_alerts_deployment" FOREIGN KEY ("deployment_id")
          REFERENCES "cloud_deployments"("id") ON DELETE CASCADE ON UPDATE NO ACTION
      )`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "training_alerts"`);
    await queryRunner.query(`ALTER TABLE "training_metrics" DROP COLUMN "non_finite"`);
    await queryRunner.query(
      `ALTER TABLE "cloud_deployments" DROP COLUMN "stop_after_stall_minutes", DROP COLUMN "stop_on_nan"`,
    );
  }
}
