import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Webhooks (issue 17):
 * - `webhooks`: a user's endpoints, with the signing secret sealed by the secret box;
 * - `webhook_outbox`: one row per event owed to a webhook, written in the transaction that made the event; the
 *   delivery worker claims due rows (`next_attempt_at`, pending ones only) and leases them (`locked_until`);
 * - `webhook_deliveries`: one row per attempt, the delivery log, paged by `seq`.
 */
export class Webhooks1764700800000 implements MigrationInterface {
  name = "Webhooks1764700800000";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "webhooks" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "user_id" text NOT NULL,
        "url" text NOT NULL,
        "events" text array NOT NULL,
        "format" text NOT NULL,
        "description" text,
        "enabled" boolean NOT NULL DEFAULT true,
        "secret_ciphertext" text NOT NULL,
        "secret_key_version" text NOT NULL,
        "failing_since" TIMESTAMP(3) WITH TIME ZONE,
        "last_delivery_at" TIMESTAMP(3) WITH TIME ZONE,
        "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "pk_webhooks" PRIMARY KEY ("id"),
        CONSTRAINT "fk_webhooks_user" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE
      )`);
    await queryRunner.query(
      `CREATE INDEX "idx_webhooks_user_created" ON "webhooks" ("user_id", "created_at")`,
    );
    await queryRunner.query(`
      CREATE TABLE "webhook_outbox" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "event_id" uuid NOT NULL,
        "webhook_id" uuid NOT NULL,
        "event" text NOT NULL,
        "payload" jsonb NOT NULL,
        "attempts" integer NOT NULL DEFAULT 0,
        "next_attempt_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL,
        "locked_until" TIMESTAMP(3) WITH TIME ZONE,
        "finished_at" TIMESTAMP(3) WITH TIME ZONE,
        "outcome" text,
        "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "pk_webhook_outbox" PRIMARY KEY ("id"),
        CONSTRAINT "fk_webhook_outbox_webhook" FOREIGN KEY ("webhook_id") REFERENCES "webhooks"("id") ON DELETE CASCADE
      )`);
    // The worker's claim reads pending rows by due time only.
    await queryRunner.query(
      `CREATE INDEX "idx_webhook_outbox_due" ON "webhook_outbox" ("next_attempt_at") WHERE finished_at IS NULL`,
    );
    await queryRunner.query(`CREATE INDEX "idx_webhook_outbox_webhook" ON "webhook_outbox" ("webhook_id")`);
    await queryRunner.query(`
      CREATE TABLE "webhook_deliveries" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "seq" BIGSERIAL NOT NULL,
        "webhook_id" uuid NOT NULL,
        "outbox_id" uuid NOT NULL,
        "event_id" uuid NOT NULL,
        "event" text NOT NULL,
        "attempt" integer NOT NULL,
        "status_code" integer,
        "latency_ms" integer,
        "error" text,
        "response_excerpt" text,
        "delivered_at" TIMESTAMP(3) WITH TIME ZONE,
        "next_attempt_at" TIMESTAMP(3) WITH TIME ZONE,
        "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "pk_webhook_deliveries" PRIMARY KEY ("id"),
        CONSTRAINT "fk_webhook_deliveries_webhook" FOREIGN KEY ("webhook_id") REFERENCES "webhooks"("id") ON DELETE CASCADE,
        CONSTRAINT "fk_webhook_deliveries_outbox" FOREIGN KEY ("outbox_id") REFERENCES "webhook_outbox"("id") ON DELETE CASCADE
      )`);
    await queryRunner.query(
      `CREATE INDEX "idx_webhook_deliveries_webhook_seq" ON "webhook_deliveries" ("webhook_id", "seq")`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_webhook_deliveries_outbox" ON "webhook_deliveries" ("outbox_id")`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "webhook_deliveries"`);
    await queryRunner.query(`DROP TABLE "webhook_outbox"`);
    await queryRunner.query(`DROP TABLE "webhooks"`);
  }
}
