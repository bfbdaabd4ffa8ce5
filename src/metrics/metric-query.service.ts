import { MoreThan, type DataSource } from "typeorm";
import { lttb } from "./downsample";
import { metricErrors } from "./metric.errors";
import { TrainingMetric } from "./training-metric.entity";

export const MAX_METRICS_LIMIT = 10_000;
/** Above this many points a downsample starts from evenly spread candidates instead of every row. */
const CANDIDATES_PER_POINT = 8;
const MIN_CANDIDATES = 4_000;

/** Reads of stored training curves. */
export class MetricQueryService {
  constructor(private readonly db: DataSource) {}

  /** Points after `afterStep`, in step order, at most `limit`. */
  async history(
    jobId: string,
    afterStep: number | null | undefined,
    limit: number | null | undefined,
  ): Promise<TrainingMetric[]> {
    const take = limit ?? 1000;
    if (!Number.isInteger(take) || take < 1 || take > MAX_METRICS_LIMIT) {
      throw metricErrors.badLimit(MAX_METRICS_LIMIT);
    }
    return this.db.getRepository(TrainingMetric).find({
      where: afterStep == null ? { jobId } : { jobId, step: MoreThan(afterStep) },
      order: { step: "ASC" },
      take,
    });
  }

  /**
   * At most `maxPoints` points after `afterStep`, chosen by largest-triangle-three-buckets on the loss curve,
   * first and last kept. Short histories are read whole. Long ones are not loaded: a few thousand rows spread
   * evenly over the step range are fetched by index (one lookup each) and LTTB picks among them, so a million
   * points cost as much as four thousand.
   */
  async downsampled(
    jobId: string,
    afterStep: number | null | undefined,
    maxPoints: number,
  ): Promise<TrainingMetric[]> {
    if (!Number.isInteger(maxPoints) || maxPoints < 2 || maxPoints > MAX_METRICS_LIMIT) {
      throw metricErrors.badMaxPoints(MAX_METRICS_LIMIT);
    }
    const after = afterStep ?? -1;
    const candidates = Math.max(MIN_CANDIDATES, maxPoints * CANDIDATES_PER_POINT);
    const [bounds] = await this.db.query<{ first: number | null; last: number | null }[]>(
      `SELECT (SELECT step FROM training_metrics WHERE job_id = $1 AND step > $2 ORDER BY step ASC LIMIT 1) AS first,
              (SELECT step FROM training_metrics WHERE job_id = $1 AND step > $2 ORDER BY step DESC LIMIT 1) AS last`,
      [jobId, after],
    );
    if (bounds.first === null || bounds.last === null) return [];
    // First the curve alone (step and loss), then whole rows only for the points kept.
    type Sample = { step: number; loss: number | null; eval_loss: number | null };
    const samples =
      bounds.last - bounds.first + 1 <= candidates
        ? // Steps are integers: a span this short holds at most this many rows.
          await this.db.query<Sample[]>(
            `SELECT step, loss, eval_loss FROM training_metrics WHERE job_id = $1 AND step > $2 ORDER BY step`,
            [jobId, after],
          )
        : await this.db.query<Sample[]>(
            `SELECT DISTINCT ON (c.step) c.step, c.loss, c.eval_loss FROM (
               SELECT m.* FROM generate_series(0, $4::int - 1) AS g(i)
               CROSS JOIN LATERAL (
                 SELECT step, loss, eval_loss FROM training_metrics
                 WHERE job_id = $1 AND step >= $2::int + floor(g.i::numeric * ($3::int - $2::int + 1) / $4::int)::int
                 ORDER BY step LIMIT 1
               ) AS m
               UNION ALL -- the last point always counts
               SELECT step, loss, eval_loss FROM training_metrics WHERE job_id = $1 AND step = $3::int
             ) AS c
             ORDER BY c.step`,
            [jobId, bounds.first, bounds.last, candidates],
          );
    if (samples.length === 0) return [];
    let lastY = 0;
    const kept =
      samples.length <= maxPoints
        ? samples.map((sample) => sample.step)
        : lttb(
            samples.map((sample) => sample.step),
            samples.map((sample) => (lastY = sample.loss ?? sample.eval_loss ?? lastY)),
            maxPoints,
          ).map((i) => samples[i].step);
    return this.db
      .getRepository(TrainingMetric)
      .createQueryBuilder("m")
      .where("m.job_id = :jobId AND m.step = ANY(:steps)", { jobId, steps: kept })
      .orderBy("m.step", "ASC")
      .getMany();
  }

  /** The point with the highest step of each job. */
  async latest(jobIds: readonly string[]): Promise<Map<string, TrainingMetric>> {
    if (jobIds.length === 0) return new Map();
    // One backward index probe per job (the primary key is (job_id, step)): a job with a million points costs
    // what one with ten does. DISTINCT ON … ORDER BY would sort every point of every job instead.
    const tops = await this.db.query<{ job_id: string; step: number | null }[]>(
      `SELECT j.id AS job_id,
              (SELECT m.step FROM training_metrics m WHERE m.job_id = j.id ORDER BY m.step DESC LIMIT 1) AS step
       FROM unnest($1::uuid[]) AS j(id)`,
      [[...new Set(jobIds)]],
    );
    const found = tops.filter((t): t is { job_id: string; step: number } => t.step !== null);
    if (found.length === 0) return new Map();
    const rows = await this.db
      .getRepository(TrainingMetric)
      .findBy(found.map((t) => ({ jobId: t.job_id, step: t.step })));
    return new Map(rows.map((row) => [row.jobId, row]));
  }
}
