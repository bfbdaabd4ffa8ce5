import { Brackets, type DataSource } from "typeorm";
import { isUuid } from "../db/ids";
import { TrainingJob } from "../jobs/training-job.entity";
import type { NodeSource } from "../relay/node.types";
import { TrainingMetric } from "./training-metric.entity";

/** The largest step the `integer` column holds. */
const MAX_STEP = 2_147_483_647;

/** A metric id, `<jobId>:<step>`, as its parts; undefined when it cannot name a point. */
function parseMetricId(id: string): { jobId: string; step: number } | undefined {
  const match = /^([^:]+):(0|[1-9][0-9]{0,9})$/.exec(id);
  if (!match || !isUuid(match[1]) || Number(match[2]) > MAX_STEP) return undefined;
  return { jobId: match[1], step: Number(match[2]) };
}

/** The points of the caller's jobs, for `node(id)`: one query by primary key for every id asked. */
export function metricNodes(db: DataSource): NodeSource {
  return {
    async find(userId, ids) {
      const points = ids.flatMap((id) => parseMetricId(id) ?? []);
      if (points.length === 0) return new Map();
      const rows = await db
        .getRepository(TrainingMetric)
        .createQueryBuilder("m")
        .innerJoin(TrainingJob, "j", "j.id = m.job_id")
        .where("j.user_id = :userId", { userId })
        .andWhere(
          new Brackets((any) => {
            points.forEach(({ jobId, step }, i) =>
              any.orWhere(`(m.job_id = :job${i} AND m.step = :step${i})`, {
                [`job${i}`]: jobId,
                [`step${i}`]: step,
              }),
            );
          }),
        )
        .getMany();
      return new Map(rows.map((row) => [row.key, row]));
    },
  };
}
