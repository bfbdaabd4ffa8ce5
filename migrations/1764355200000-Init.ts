import type { MigrationInterface, QueryRunner } from "typeorm";

/** Every table of the gateway's data model, with its keys, constraints and the indexes its queries use. */
export class Init1764355200000 implements MigrationInterface {
  name = "Init1764355200000";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "users" (
        "id" text NOT NULL,
        "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "pk_users" PRIMARY KEY ("id")
      )`);

    await queryRunner.query(`
      CREATE TABLE "provider_secrets" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "user_id" text NOT NULL,
        "provider" text NOT NULL,
        "api_key_encrypted" text NOT NULL,
        "key_version" text NOT NULL,
        "last4" text NOT NULL,
        "description" text,
        "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "pk_provider_secrets" PRIMARY KEY ("id"),
        CONSTRAINT "fk_provider_secrets_user" FOREIGN KEY ("user_id")
          REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION
      )`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_provider_secrets_user_provider" ON "provider_secrets" ("user_id", "provider")`,
    );

    await queryRunner.query(`
      CREATE TABLE "training_configs" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "user_id" text NOT NULL,
        "name" text NOT NULL,
        "model_name" text NOT NULL,
        "dataset_url" text NOT NULL,
        "method" text NOT NULL,
        "hyperparameters" jsonb NOT NULL,
        "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "pk_training_configs" PRIMARY KEY ("id"),
        CONSTRAINT "fk_training_configs_user" FOREIGN KEY ("user_id")
          REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION
      )`);
    await queryRunner.query(
      `CREATE INDEX "idx_training_configs_user_created" ON "training_configs" ("user_id", "created_at")`,
    );

    await queryRunner.query(`
      CREATE TABLE "training_jobs" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "user_id" text NOT NULL,
        "training_config_id" uuid,
        "model_name" text NOT NULL,
        "dataset_url" text NOT NULL,
        "status" text NOT NULL,
        "job_token_hash" text NOT NULL,
        "config" jsonb NOT NULL,
        "progress" double precision,
        "artifact_uri" text,
        "error_message" text,
        "started_at" TIMESTAMP(3) WITH TIME ZONE,
        "completed_at" TIMESTAMP(3) WITH TIME ZONE,
        "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "pk_training_jobs" PRIMARY KEY ("id"),
        CONSTRAINT "fk_training_jobs_user" FOREIGN KEY ("user_id")
          REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION,
        CONSTRAINT "fk_training_jobs_training_config" FOREIGN KEY ("training_config_id")
          REFERENCES "training_configs"("id") ON DELETE SET NULL ON UPDATE NO ACTION
      )`);
    await queryRunner.query(
      `CREATE INDEX "idx_training_jobs_user_created" ON "training_jobs" ("user_id", "created_at")`,
    );

    // Money is numeric dollars with 6 decimals (whole micro-dollars); it is never accrued in floats.
    await queryRunner.query(`
      CREATE TABLE "cloud_deployments" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "user_id" text NOT NULL,
        "job_id" uuid NOT NULL,
        "platform" text NOT NULL DEFAULT 'RUNPOD',
        "training_config_id" uuid,
        "pod_id" text,
        "status" text NOT NULL,
        "stop_reason" text,
        "gpu_type" text NOT NULL,
        "gpu_count" integer NOT NULL,
        "cloud_type" text NOT NULL,
        "url" text,
        "config" jsonb NOT NULL,
        "cost_per_hour" numeric(14,6),
        "budget_limit" numeric(14,6) NOT NULL,
        "actual_cost" numeric(14,6) NOT NULL DEFAULT '0',
        "uptime_seconds" integer NOT NULL DEFAULT '0',
        "max_price_per_hour" numeric(14,6),
        "max_duration_minutes" integer,
        "output" jsonb,
        "network_volume_id" text,
        "idempotency_key" text,
        "error_message" text,
        "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        "started_at" TIMESTAMP(3) WITH TIME ZONE,
        "completed_at" TIMESTAMP(3) WITH TIME ZONE,
        "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "pk_cloud_deployments" PRIMARY KEY ("id"),
        CONSTRAINT "fk_cloud_deployments_user" FOREIGN KEY ("user_id")
          REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION,
        CONSTRAINT "fk_cloud_deployments_job" FOREIGN KEY ("job_id")
          REFERENCES "training_jobs"("id") ON DELETE CASCADE ON UPDATE NO ACTION,
        CONSTRAINT "fk_cloud_deployments_training_config" FOREIGN KEY ("training_config_id")
          REFERENCES "training_configs"("id") ON DELETE SET NULL ON UPDATE NO ACTION
      )`);
    // Keyset pagination of a user's deployments (newest first) reads this index backwards.
    await queryRunner.query(
      `CREATE INDEX "idx_cloud_deployments_user_created" ON "cloud_deployments" ("user_id", "created_at", "id")`,
    );
    // The watchdog and the status sync scan active deployments.
    await queryRunner.query(`CREATE INDEX "idx_cloud_deployments_status" ON "cloud_deployments" ("status")`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_cloud_deployments_job" ON "cloud_deployments" ("job_id")`,
    );
    // NULL keys never collide, so deployments without an idempotency key are unaffected.
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_cloud_deployments_user_idempotency_key" ON "cloud_deployments" ("user_id", "idempotency_key")`,
    );

    await queryRunner.query(`
      CREATE TABLE "training_metrics" (
        "job_id" uuid NOT NULL,
        "step" integer NOT NULL,
        "epoch" double precision,
        "loss" double precision,
        "eval_loss" double precision,
        "learning_rate" double precision,
        "grad_norm" double precision,
        "samples_per_second" double precision,
        "elapsed_seconds" integer,
        "remaining_seconds" integer,
        "progress" double precision,
        "gpu_memory_allocated_gb" double precision,
        "gpu_memory_reserved_gb" double precision,
        "gpu_utilization_percent" double precision,
        "recorded_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "pk_training_metrics" PRIMARY KEY ("job_id", "step"),
        CONSTRAINT "fk_training_metrics_job" FOREIGN KEY ("job_id")
          REFERENCES "training_jobs"("id") ON DELETE CASCADE ON UPDATE NO ACTION
      )`);

    // The primary key is what makes each threshold fire at most once, across replicas and restarts.
    await queryRunner.query(`
      CREATE TABLE "budget_alerts" (
        "deployment_id" uuid NOT NULL,
        "threshold_percent" integer NOT NULL,
        "action" text NOT NULL,
        "actual_cost" numeric(14,6) NOT NULL,
        "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "pk_budget_alerts" PRIMARY KEY ("deployment_id", "threshold_percent"),
        CONSTRAINT "fk_budget_alerts_deployment" FOREIGN KEY ("deployment_id")
          REFERENCES "cloud_deployments"("id") ON DELETE CASCADE ON UPDATE NO ACTION
      )`);

    await queryRunner.query(`
      CREATE TABLE "deployment_events" (
        "id" BIGSERIAL NOT NULL,
        "deployment_id" uuid NOT NULL,
        "kind" text NOT NULL,
        "detail" jsonb NOT NULL,
        "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "pk_deployment_events" PRIMARY KEY ("id"),
        CONSTRAINT "fk_deployment_events_deployment" FOREIGN KEY ("deployment_id")
          REFERENCES "cloud_deployments"("id") ON DELETE CASCADE ON UPDATE NO ACTION
      )`);
    await queryRunner.query(
      `CREATE INDEX "idx_deployment_events_deployment" ON "deployment_events" ("deployment_id", "id")`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    // Tables go in reverse order of their foreign keys; their indexes and constraints go with them.
    for (const table of [
      "deployment_events",
      "budget_alerts",
      "training_metrics",
      "cloud_deployments",
      "training_jobs",
      "training_configs",
      "provider_secrets",
      "users",
    ]) {
      await queryRunner.query(`DROP TABLE "${table}"`);
    }
  }
}
