import { isUuid } from "../db/ids";
import type { NodeSource } from "../relay/node.types";
import { jobById } from "./training-job.loaders";

/**
 * The caller's jobs, for `node(id)`, through the request's job loader: a job fetched as a node is not fetched
 * again for a deployment's `job` in the same request.
 */
export const trainingJobNodes: NodeSource = {
  async find(userId, ids, loaders) {
    const loader = loaders.get(jobById);
    const jobs = await Promise.all(ids.filter(isUuid).map((id) => loader.load(id)));
    return new Map(jobs.flatMap((job) => (job?.userId === userId ? [[job.id, job]] : [])));
  },
};
