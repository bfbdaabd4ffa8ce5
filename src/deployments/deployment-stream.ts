import { BoundedChannel, mapIterator } from "../pubsub/channel";
import type { Topic } from "../pubsub/event-bus";
import type { LiveStreams } from "../pubsub/live-streams";
import type { DeploymentQueryService } from "./deployment-query.service";
import type { Deployment } from "./deployment.entity";

/** A deployment's row changed (status, cost, stop flag). Subscribers reload or map what they need. */
export interface DeploymentUpdatedEvent {
  deploymentId: string;
  userId: string;
}

/** Something the pod callbacks answer from (status, stop flag) changed for this job, on any replica. */
export interface JobAccessChangedEvent {
  jobId: string;
}

/** The topics the deployments publish on. */
export const deploymentTopics = {
  /** One deployment changed. */
  deploymentUpdated: (deploymentId: string): Topic<DeploymentUpdatedEvent> =>
    `deployment/${deploymentId}/updated`,
  /** Any deployment of one user changed. */
  userDeploymentUpdated: (userId: string): Topic<DeploymentUpdatedEvent> =>
    `user/${userId}/deployment-updated`,
  /** Any job whose callback answers changed (every replica listens, to drop what it cached). */
  jobAccessChanged: "job-access/changed" as Topic<JobAccessChangedEvent>,
} as const;

/** The `deploymentUpdated` subscription. */
export class DeploymentStream {
  constructor(
    private readonly streams: LiveStreams,
    private readonly deployments: DeploymentQueryService,
  ) {}

  /** Status and cost changes of one deployment, or of all the caller's. Each event carries the row as it is now. */
  async subscribe(userId: string, id: string | null | undefined): Promise<AsyncIterableIterator<Deployment>> {
    if (id) await this.deployments.get(userId, id);
    const topic = id
      ? deploymentTopics.deploymentUpdated(id)
      : deploymentTopics.userDeploymentUpdated(userId);
    // Only the latest state matters: a deployment already waiting to be sent is not queued twice.
    const waiting = new Set<string>();
    const ids = new BoundedChannel<string>(this.streams.buffer);
    await this.streams.feed(userId, ids, topic, (event) => {
      if (event.userId !== userId || waiting.has(event.deploymentId)) return;
      waiting.add(event.deploymentId);
      ids.push(event.deploymentId);
    });
    return mapIterator(ids, async (deploymentId) => {
      waiting.delete(deploymentId);
      return this.deployments.get(userId, deploymentId);
    });
  }
}
