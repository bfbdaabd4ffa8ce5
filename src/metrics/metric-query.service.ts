import { MoreThan, type DataSource } from "typeorm";
import { badInput } from "../errors/app-error";
import { TrainingMetric } from "./training-metric.entity";

export const MAX_METRICS_LIMIT = 10_000;

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
