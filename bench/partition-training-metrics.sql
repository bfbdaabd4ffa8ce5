-- Opt-in, run by hand (never by the migrations): turns training_metrics into a table partitioned by HASH (job_id)
-- with 16 partitions, keeping its name, columns, primary key (job_id, step) and foreign key, so the gateway's
-- queries and its upsert (ON CONFLICT (job_id, step)) work unchanged. Every query the gateway sends names one
-- job_id (or a list of them), so each touches only that job's partition.
--
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f bench/partition-training-metrics.sql
--
-- It copies every row in one transaction and holds an ACCESS EXCLUSIVE lock on the table until it commits: metric
-- POSTs wait (and time out past the request timeout) while it runs. bench/pg-ceiling.ts --partition runs it on a
-- scratch database and prints how long the copy took per million rows. Run it in a maintenance window, and
-- take a backup first. To go back: create the plain table as migrations/1764355200000-Init.ts does and copy
-- the rows back the same way.
BEGIN;

LOCK TABLE training_metrics IN ACCESS EXCLUSIVE MODE;

ALTER TABLE training_metrics RENAME TO training_metrics_unpartitioned;
ALTER TABLE training_metrics_unpartitioned RENAME CONSTRAINT pk_training_metrics TO pk_training_metrics_unpartitioned;
ALTER TABLE training_metrics_unpartitioned
  RENAME CONSTRAINT fk_training_metrics_job TO fk_training_metrics_unpartitioned_job;

-- Same columns in the same order, with their defaults and NOT NULLs.
CREATE TABLE training_metrics (LIKE training_metrics_unpartitioned INCLUDING DEFAULTS) PARTITION BY HASH (job_id);
ALTER TABLE training_metrics ADD CONSTRAINT pk_training_metrics PRIMARY KEY (job_id, step);
ALTER TABLE training_metrics ADD CONSTRAINT fk_training_metrics_job FOREIGN KEY (job_id)
  REFERENCES training_jobs (id) ON DELETE CASCADE ON UPDATE NO ACTION;

DO $$
BEGIN
  FOR i IN 0..15 LOOP
    EXECUTE format(
      'CREATE TABLE training_metrics_p%s PARTITION OF training_metrics FOR VALUES WITH (MODULUS 16, REMAINDER %s)',
      lpad(i::text, 2, '0'), i);
  END LOOP;
END $$;

INSERT INTO training_metrics SELECT * FROM training_metrics_unpartitioned;
DROP TABLE training_metrics_unpartitioned;

COMMIT;

ANALYZE training_metrics;
