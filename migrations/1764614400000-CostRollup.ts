import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * The cost report's rollup, kept by triggers on `cloud_deployments` in the transaction that writes a deployment's
 * cost or billing window (accrual, pod creation, any other writer):
 * - `cost_windows`: one row per deployment: its creation, the last time its cost was brought up to date (or its
 *   creation), its cost in integer micro-dollars (`numeric(14,6)` x 10^6), its GPU-seconds (uptime x GPUs); indexed
 *   by (user, ends_at). Its billing window runs from `starts_at` to GREATEST(starts_at, ends_at).
 * - `cost_days`: one row per deployment and UTC day its window touches (from the day it starts to its end, a window
 *   ending at midnight touching that day too): the exact `numeric` share of its cost spread evenly over the window.
 *   `carried`: the deployment was created before that day. A growing window moves every share, so a deployment's rows are rewritten whenever its window or cost changes.
 * - `cost_user_days`: per user and day, the sum of those shares and how many deployments touch the day.
 * - `cost_user_created_days`: per user, UTC day of creation and GPU type, the deployments' whole costs, GPU-seconds,
 *   how many there are and how many cost anything: a report sums the days its range holds whole.
 * Numeric addition is exact, so a day's sum is the same number as summing its shares afresh.
 */
export class CostRollup1764614400000 implements MigrationInterface {
  name = "CostRollup1764614400000";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "cost_windows" (
        "deployment_id" uuid NOT NULL,
        "user_id" text NOT NULL,
        "gpu_type" text NOT NULL,
        "starts_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL,
        "ends_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL,
        "micros" bigint NOT NULL,
        "gpu_seconds" bigint NOT NULL,
        CONSTRAINT "pk_cost_windows" PRIMARY KEY ("deployment_id")
      )`);
    // The report scans a user's windows ending in or after its range, from the index alone.
    await queryRunner.query(
      `CREATE INDEX "idx_cost_windows_user_ends" ON "cost_windows" ("user_id", "ends_at")
       INCLUDE ("starts_at", "micros", "gpu_seconds", "gpu_type", "deployment_id")`,
    );
    await queryRunner.query(`
      CREATE TABLE "cost_days" (
        "deployment_id" uuid NOT NULL,
        "user_id" text NOT NULL,
        "day" TIMESTAMP WITH TIME ZONE NOT NULL,
        "micros" numeric NOT NULL,
        "carried" boolean NOT NULL,
        CONSTRAINT "pk_cost_days" PRIMARY KEY ("deployment_id", "day")
      )`);
    await queryRunner.query(
      `CREATE INDEX "idx_cost_days_user_day" ON "cost_days" ("user_id", "day", "carried") INCLUDE ("deployment_id")`,
    );
    await queryRunner.query(`
      CREATE TABLE "cost_user_days" (
        "user_id" text NOT NULL,
        "day" TIMESTAMP WITH TIME ZONE NOT NULL,
        "micros" numeric NOT NULL,
        "deployments" integer NOT NULL,
        CONSTRAINT "pk_cost_user_days" PRIMARY KEY ("user_id", "day")
      )`);
    await queryRunner.query(`
      CREATE TABLE "cost_user_created_days" (
        "user_id" text NOT NULL,
        "day" TIMESTAMP WITH TIME ZONE NOT NULL,
        "gpu_type" text NOT NULL,
        "micros" bigint NOT NULL,
        "gpu_seconds" bigint NOT NULL,
        "deployments" integer NOT NULL,
        "costing" integer NOT NULL,
        CONSTRAINT "pk_cost_user_created_days" PRIMARY KEY ("user_id", "day", "gpu_type")
      )`);
    // A report's dearest deployments created on the days its range holds whole.
    await queryRunner.query(
      `CREATE INDEX "idx_cost_windows_user_micros" ON "cost_windows" ("user_id", "micros" DESC, "starts_at" DESC)
       INCLUDE ("ends_at", "deployment_id")`,
    );
    // Rewrites the rollup of the given deployments from their rows (a deleted one: its rollup goes). The user-day
    // rows are changed in (user, day) order, so concurrent rewrites of one user's deployments cannot deadlock.
    // Adds (sign 1) or takes away (sign -1) the given deployments' windows to their users' creation days.
    await queryRunner.query(`
      CREATE FUNCTION cost_rollup_created_days(ids uuid[], direction integer) RETURNS void LANGUAGE sql AS $$
        INSERT INTO cost_user_created_days (user_id, day, gpu_type, micros, gpu_seconds, deployments, costing)
        SELECT user_id, date_trunc('day', starts_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS day, gpu_type,
               direction * SUM(micros), direction * SUM(gpu_seconds), direction * COUNT(*), direction * COUNT(*) FILTER (WHERE micros > 0)
        FROM cost_windows WHERE deployment_id = ANY(ids)
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (user_id, day, gpu_type) DO UPDATE
          SET micros = cost_user_created_days.micros + EXCLUDED.micros,
              gpu_seconds = cost_user_created_days.gpu_seconds + EXCLUDED.gpu_seconds,
              deployments = cost_user_created_days.deployments + EXCLUDED.deployments,
              costing = cost_user_created_days.costing + EXCLUDED.costing
      $$`);
    await queryRunner.query(`
      CREATE FUNCTION cost_rollup_rebuild(ids uuid[]) RETURNS void LANGUAGE plpgsql AS $$
      BEGIN
        WITH old AS (DELETE FROM cost_days WHERE deployment_id = ANY(ids) RETURNING user_id, day, micros)
        INSERT INTO cost_user_days (user_id, day, micros, deployments)
        SELECT user_id, day, -SUM(micros), -COUNT(*) FROM old GROUP BY user_id, day ORDER BY user_id, day
        ON CONFLICT (user_id, day) DO UPDATE
          SET micros = cost_user_days.micros + EXCLUDED.micros,
              deployments = cost_user_days.deployments + EXCLUDED.deployments;
        PERFORM cost_rollup_created_days(ids, -1);
        DELETE FROM cost_windows WHERE deployment_id = ANY(ids);
        INSERT INTO cost_windows (deployment_id, user_id, gpu_type, starts_at, ends_at, micros, gpu_seconds)
        SELECT id, user_id, gpu_type, created_at, COALESCE(last_observed_at, created_at),
               (actual_cost * 1000000)::bigint, uptime_seconds::bigint * gpu_count
        FROM cloud_deployments WHERE id = ANY(ids);
        PERFORM cost_rollup_created_days(ids, 1);
        WITH new AS (
          INSERT INTO cost_days (deployment_id, user_id, day, carried, micros)
          SELECT w.deployment_id, w.user_id, day, day > w.s,
                 w.micros::numeric *
                 CASE WHEN w.e = w.s THEN 1
                      ELSE GREATEST(0, EXTRACT(EPOCH FROM LEAST(w.e, day + interval '1 day') - GREATEST(w.s, day)))::numeric
                           / EXTRACT(EPOCH FROM w.e - w.s)::numeric END
          FROM (SELECT deployment_id, user_id, micros, starts_at AS s, GREATEST(starts_at, ends_at) AS e
                FROM cost_windows WHERE deployment_id = ANY(ids)) w
          CROSS JOIN LATERAL generate_series(
            date_trunc('day', w.s AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', w.e, interval '1 day') AS day
          RETURNING user_id, day, micros
        )
        INSERT INTO cost_user_days (user_id, day, micros, deployments)
        SELECT user_id, day, SUM(micros), COUNT(*) FROM new GROUP BY user_id, day ORDER BY user_id, day
        ON CONFLICT (user_id, day) DO UPDATE
          SET micros = cost_user_days.micros + EXCLUDED.micros,
              deployments = cost_user_days.deployments + EXCLUDED.deployments;
      END $$`);
    // Statement-level: a statement that writes many deployments (the supervisor accrues a page of them in one
    // UPDATE) rewrites their rollup in one pass. One rewrite per user at a time, to the end of the transaction
    // (users locked in order): the user-day rows of one user's deployments are then never locked by two
    // transactions in opposite orders.
    await queryRunner.query(`
      CREATE FUNCTION cost_rollup_rewrite(ids uuid[], users text[]) RETURNS void LANGUAGE plpgsql AS $$
      BEGIN
        IF cardinality(ids) = 0 THEN RETURN; END IF;
        PERFORM pg_advisory_xact_lock(hashtext('cost_rollup'), hashtext(u))
        FROM (SELECT DISTINCT u FROM unnest(users) AS u WHERE u IS NOT NULL ORDER BY u) locked;
        PERFORM cost_rollup_rebuild(ids);
      END $$`);
    await queryRunner.query(`
      CREATE FUNCTION cost_rollup_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM cost_rollup_rewrite(ARRAY(SELECT id FROM new_rows), ARRAY(SELECT user_id FROM new_rows));
        RETURN NULL;
      END $$`);
    await queryRunner.query(`
      CREATE FUNCTION cost_rollup_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM cost_rollup_rewrite(ARRAY(SELECT id FROM old_rows), ARRAY(SELECT user_id FROM old_rows));
        RETURN NULL;
      END $$`);
    // Only the rows whose cost, window, GPU or owner changed are rewritten.
    await queryRunner.query(`
      CREATE FUNCTION cost_rollup_updated() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        ids uuid[];
        users text[];
      BEGIN
        SELECT array_agg(n.id), array_agg(n.user_id) || array_agg(o.user_id) INTO ids, users
        FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE o.user_id IS DISTINCT FROM n.user_id OR o.gpu_type IS DISTINCT FROM n.gpu_type
           OR o.gpu_count IS DISTINCT FROM n.gpu_count OR o.actual_cost IS DISTINCT FROM n.actual_cost
           OR o.uptime_seconds IS DISTINCT FROM n.uptime_seconds OR o.created_at IS DISTINCT FROM n.created_at
           OR o.last_observed_at IS DISTINCT FROM n.last_observed_at;
        IF ids IS NOT NULL THEN PERFORM cost_rollup_rewrite(ids, users); END IF;
        RETURN NULL;
      END $$`);
    await queryRunner.query(`
      CREATE TRIGGER "trg_cloud_deployments_cost_rollup_insert" AFTER INSERT ON "cloud_deployments"
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cost_rollup_inserted()`);
    await queryRunner.query(`
      CREATE TRIGGER "trg_cloud_deployments_cost_rollup_update" AFTER UPDATE ON "cloud_deployments"
      REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
      EXECUTE FUNCTION cost_rollup_updated()`);
    await queryRunner.query(`
      CREATE TRIGGER "trg_cloud_deployments_cost_rollup_delete" AFTER DELETE ON "cloud_deployments"
      REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION cost_rollup_deleted()`);
    await queryRunner.query(`SELECT cost_rollup_rebuild(ARRAY(SELECT id FROM cloud_deployments))`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER "trg_cloud_deployments_cost_rollup_delete" ON "cloud_deployments"`);
    await queryRunner.query(`DROP TRIGGER "trg_cloud_deployments_cost_rollup_update" ON "cloud_deployments"`);
    await queryRunner.query(`DROP TRIGGER "trg_cloud_deployments_cost_rollup_insert" ON "cloud_deployments"`);
    await queryRunner.query(`DROP FUNCTION cost_rollup_updated()`);
    await queryRunner.query(`DROP FUNCTION cost_rollup_deleted()`);
    await queryRunner.query(`DROP FUNCTION cost_rollup_inserted()`);
    await queryRunner.query(`DROP FUNCTION cost_rollup_rewrite(uuid[], text[])`);
    await queryRunner.query(`DROP FUNCTION cost_rollup_rebuild(uuid[])`);
    await queryRunner.query(`DROP FUNCTION cost_rollup_created_days(uuid[], integer)`);
    await queryRunner.query(`DROP TABLE "cost_user_created_days"`);
    await queryRunner.query(`DROP TABLE "cost_user_days"`);
    await queryRunner.query(`DROP TABLE "cost_days"`);
    await queryRunner.query(`DROP TABLE "cost_windows"`);
  }
}
