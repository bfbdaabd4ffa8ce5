import { In, MoreThan, type DataSource } from "typeorm";
import { badInput } from "../errors/app-error";
import { lttb } from "./downsample";
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
      throw badInput("limit", `must be from 1 to ${MAX_METRICS_LIMIT}`);
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
      throw badInput("maxPoints", `must be from 2 to ${MAX_METRICS_LIMIT}`);
    }
    const after = afterStep ?? -1;
    const candidates = Math.max(MIN_CANDIDATES, maxPoints * CANDIDATES_PER_POINT);
    const [bounds] = await this.db.query<{ first: number | null; last: number | null }[]>(
      `SELECT (SELECT step FROM training_metrics WHERE job_id = $1 AND step > $2 ORDER BY step ASC LIMIT 1) AS first,
              (SELECT step FROM training_metrics WHERE job_id = $1 AND step > $2 ORDER BY step DESC LIMIT 1) AS last`,
      [jobId, after],
    );
    if (bounds.first === null || bounds.last === null) return [];
    const repo = this.db.getRepository(TrainingMetric);
    let rows: TrainingMetric[];
    if (bounds.last - bounds.first + 1 <= candidates) {
      // Steps are integers: a span this short holds at most this many rows.
      rows = await repo.find({ where: { jobId, step: MoreThan(after) }, order: { step: "ASC" } });
    } else {
      const ids: { step: number }[] = await this.db.query(
        `SELECT DISTINCT m.step FROM generate_series(0, $4::int - 1) AS g(i)
         CROSS JOIN LATERAL (
           SELECT step FROM training_metrics
           WHERE job_id = $1 AND step >= $2::int + floor(g.i::numeric * ($3::int - $2::int + 1) / $4::int)::int
           ORDER BY step LIMIT 1
         ) AS m`,
        [jobId, bounds.first, bounds.last, candidates],
      );
      const steps = [...new Set([...ids.map((r) => r.step), bounds.last])];
      rows = await repo.find({ where: { jobId, step: In(steps) }, order: { step: "ASC" } });
    }
    if (rows.length <= maxPoints) return rows;
    let lastY = 0;
    const ys = rows.map((r) => (lastY = r.loss ?? r.evalLoss ?? lastY));
    return lttb(
      rows.map((r) => r.step),
      ys,
      maxPoints,
    ).map((i) => rows[i]);
  }

  /** The point with the highest step of each job. */
  async latest(jobIds: readonly string[]): Promise<Map<string, TrainingMetric>> {
    if (jobIds.length === 0) return new Map();
    const rows = await this.db
      .getRepository(TrainingMetric)
      .createQueryBuilder("m")
      .distinctOn(["m.job_id"])
      .where("m.job_id IN (:...jobIds)", { jobIds })
      .orderBy("m.job_id")
      .addOrderBy("m.step", "DESC")
      .getMany();
    return new Map(rows.map((row) => [row.jobId, row]));
  }
}
