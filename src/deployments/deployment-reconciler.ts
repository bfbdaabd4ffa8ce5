import type { Logger } from "pino";
import { In, type DataSource } from "typeorm";
import { isUuid } from "../db/ids";
import { AppError } from "../errors/app-error";
import type { PodInfo, RunpodClient } from "../runpod/runpod-client";
import { PodStatus } from "../runpod/runpod-client";
import { Provider } from "../secrets/provider";
import type { ProviderSecretService } from "../secrets/provider-secret.service";
import {
  ACTIVE_DEPLOYMENT_STATUSES,
  CompletionAction,
  DeploymentStatus,
  StopReason,
} from "./deployment.enums";
import { Deployment } from "./deployment.entity";
import { podName, type DeploymentService } from "./deployment.service";

export interface ReconcilerOptions {
  /**
   * How long a deployment may sit in CREATING before its pod counts as orphaned (its creator died between the
   * upstream create and the database update). Longer than a create call can take. Default 2 minutes.
   */
  orphanGraceMs?: number;
  /**
   * How long after its creation a pod may go without its container up (the deployment still STARTING, the
   * job still PENDING) before it is terminated and the run failed. Default 15 minutes
   * (POD_START_TIMEOUT_SECONDS): large images take minutes to pull, a container that cannot start never does.
   */
  podStartTimeoutMs?: number;
  /** How far back the reaper looks for users whose accounts may hold TrainGate pods. Default 30 days. */
  lookbackMs?: number;
  now?: () => Date;
}

export interface ReconcileReport {
  observed: number;
  orphansTerminated: number;
  usersSkipped: number;
}

const POD_NAME = /^traingate-([0-9a-f-]{36})$/;
/** How long a finished run's bootstrap has to end its own pod before the reaper does it. */
const FINISHED_POD_GRACE_MS = 10 * 60_000;

/**
 * The status sync and the orphan reaper, run by one replica at a time. Everything it knows comes from the
 * database and from RunPod, so a restart or a failover loses nothing.
 *
 * Per user account, one `myself { pods }` call:
 * - every deployment that may still hold a pod is observed (status follows, cost accrues, a vanished pod closes
 *   the deployment);
 * - a deployment stuck in CREATING past the grace period lost its creator mid-create: its pod, found by name, is
 *   terminated (ORPHANED);
 * - a deployment whose pod has not had its container up within the start-up deadline is failed and its pod
 *   terminated: the container is never going to start (an image whose CUDA the host's driver lacks, say);
 * - every `traingate-*` pod that no deployment owns, or whose deployment is finished, is terminated, except the
 *   stopped pod a completed run keeps on purpose (onComplete STOP).
 */
export class DeploymentReconciler {
  private readonly orphanGraceMs: number;
  private readonly lookbackMs: number;
  private readonly podStartTimeoutMs: number;
  private readonly now: () => Date;

  constructor(
    private readonly db: DataSource,
    private readonly runpod: RunpodClient,
    private readonly secrets: ProviderSecretService,
    private readonly deployments: DeploymentService,
    private readonly logger: Logger,
    options: ReconcilerOptions = {},
  ) {
    this.orphanGraceMs = options.orphanGraceMs ?? 120_000;
    this.lookbackMs = options.lookbackMs ?? 30 * 24 * 3600_000;
    this.podStartTimeoutMs = options.podStartTimeoutMs ?? 15 * 60_000;
    this.now = options.now ?? (() => new Date());
  }

  async tick(): Promise<ReconcileReport> {
    const report: ReconcileReport = { observed: 0, orphansTerminated: 0, usersSkipped: 0 };
    const since = new Date(this.now().getTime() - this.lookbackMs);
    const tracked = await this.db
      .getRepository(Deployment)
      .createQueryBuilder("d")
      .where("d.pod_terminated_at IS NULL AND (d.status IN (:...active) OR d.pod_id IS NOT NULL)", {
        active: ACTIVE_DEPLOYMENT_STATUSES,
      })
      .getMany();
    const recentUsers: { user_id: string }[] = await this.db.query(
      `SELECT DISTINCT user_id FROM cloud_deployments WHERE created_at > $1`,
      [since],
    );
    const users = new Set([...tracked.map((d) => d.userId), ...recentUsers.map((r) => r.user_id)]);
    for (const userId of users) {
      try {
        await this.reconcileUser(
          userId,
          tracked.filter((d) => d.userId === userId),
          report,
        );
      } catch (error) {
        report.usersSkipped += 1;
        this.logger.warn({ userId, err: describe(error) }, "could not reconcile a user's pods");
      }
    }
    return report;
  }

  private async reconcileUser(userId: string, tracked: Deployment[], report: ReconcileReport): Promise<void> {
    const apiKey = await this.secrets.reveal(userId, Provider.RUNPOD);
    if (!apiKey) {
      if (tracked.length > 0) report.usersSkipped += 1;
      return;
    }
    const pods = await this.runpod.listPods(apiKey);
    const byId = new Map(pods.map((pod) => [pod.id, pod]));
    const byName = new Map(pods.map((pod) => [pod.name, pod]));

    for (const deployment of tracked) {
      if (deployment.podId) {
        // Not listed: confirm before closing anything (a list can lag a create).
        const pod = byId.get(deployment.podId) ?? (await this.runpod.getPod(apiKey, deployment.podId));
        await this.observeOrStop(apiKey, deployment, pod);
        report.observed += 1;
        if (pod?.status === PodStatus.STARTING && this.startOverdue(deployment)) {
          await this.failStart(apiKey, deployment, pod.id);
        }
      } else if (
        deployment.status === DeploymentStatus.CREATING &&
        this.now().getTime() - deployment.createdAt.getTime() > this.orphanGraceMs
      ) {
        const pod = byName.get(podName(deployment.id));
        if (pod) {
          await this.runpod.terminatePod(apiKey, pod.id);
          await this.deployments.signal(
            deployment.id,
            { type: "STOP", reason: StopReason.ORPHANED },
            {
              podId: pod.id,
              podTerminatedAt: this.now(),
              errorMessage: "the gateway stopped while this pod was being created; the pod was terminated",
            },
          );
          await this.deployments.recordEvent(deployment.id, "reaper.terminated", {
            podId: pod.id,
            reason: "creation interrupted",
          });
          report.orphansTerminated += 1;
        } else {
          await this.deployments.signal(
            deployment.id,
            { type: "CREATE_FAILED" },
            { errorMessage: "the pod was never created: the gateway stopped during the attempt" },
          );
        }
      }
    }

    // Pods named like ours that nothing running owns.
    const candidates = pods.filter((pod) => POD_NAME.test(pod.name));
    const ids = candidates.map((pod) => POD_NAME.exec(pod.name)![1]).filter(isUuid);
    const owners = ids.length ? await this.db.getRepository(Deployment).findBy({ id: In(ids) }) : [];
    const ownerById = new Map(owners.map((d) => [d.id, d]));
    for (const pod of candidates) {
      const owner = ownerById.get(POD_NAME.exec(pod.name)![1]);
      const action = owner ? this.orphanAction(owner, pod) : "terminate";
      if (action === "keep") continue;
      if (action === "stop") {
        // The run finished and asked to keep its disk, but its pod still runs the GPU: stop, do not destroy.
        await this.runpod.stopPod(apiKey, pod.id);
      } else {
        await this.runpod.terminatePod(apiKey, pod.id);
        report.orphansTerminated += 1;
      }
      this.logger.warn(
        { podId: pod.id, deploymentId: owner?.id ?? null, action },
        "reaped a pod nothing running owns",
      );
      if (owner) {
        await this.deployments.recordEvent(
          owner.id,
          `reaper.${action === "stop" ? "stopped" : "terminated"}`,
          {
            podId: pod.id,
          },
        );
        if (action === "terminate" && owner.podId === pod.id)
          await this.deployments.podTerminated(owner.id, "reaper");
      }
    }
  }

  private startOverdue(deployment: Deployment): boolean {
    return (
      deployment.status === DeploymentStatus.STARTING &&
      this.now().getTime() - deployment.createdAt.getTime() > this.podStartTimeoutMs
    );
  }

  /**
   * Fails a run whose container never came up, then terminates its pod. The state machine decides under the row
   * lock (a trainer report that just arrived wins); a terminate that fails is retried by the reaper, which ends
   * a finished deployment's running pod.
   */
  private async failStart(apiKey: string, deployment: Deployment, podId: string): Promise<void> {
    const minutes = Math.round(this.podStartTimeoutMs / 60_000);
    const message =
      `the pod's container never started: it did not report running within ${minutes} minutes of creation, ` +
      "most likely because the host's CUDA driver is older than the image needs or the image cannot be " +
      "pulled; the pod was terminated";
    const failed = await this.deployments.signal(
      deployment.id,
      { type: "START_TIMED_OUT" },
      { errorMessage: message },
      { errorMessage: message },
    );
    if (!failed) return;
    this.logger.warn({ deploymentId: deployment.id, podId }, "a pod's container never started");
    try {
      await this.runpod.terminatePod(apiKey, podId);
      await this.deployments.podTerminated(deployment.id, "start-timeout");
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      this.logger.warn(
        { deploymentId: deployment.id, podId, err: error.message },
        "could not terminate a pod whose container never started",
      );
    }
  }

  /**
   * What to do with a pod named after `owner`. An active deployment keeps its own pod (and one still being
   * recorded). A finished one keeps a stopped pod: its disk may hold the result (onComplete STOP, or a failed Hub
   * upload), and only storage is billed; `stopDeployment` terminates it. A finished deployment's pod that still
   * runs after the grace period (the bootstrap should have ended it) is stopped when its disk was meant to be
   * kept, and terminated otherwise. Any other pod of that name is a duplicate and is terminated.
   */
  private orphanAction(owner: Deployment, pod: PodInfo): "keep" | "stop" | "terminate" {
    if (ACTIVE_DEPLOYMENT_STATUSES.includes(owner.status)) {
      return owner.podId !== null && owner.podId !== pod.id ? "terminate" : "keep";
    }
    if (owner.podId !== pod.id) return "terminate";
    if (pod.status === PodStatus.STOPPED) return "keep";
    const finishedAt = (owner.completedAt ?? owner.updatedAt).getTime();
    if (this.now().getTime() - finishedAt < FINISHED_POD_GRACE_MS) return "keep";
    return owner.status === DeploymentStatus.COMPLETED && owner.output?.onComplete === CompletionAction.STOP
      ? "stop"
      : "terminate";
  }

  private async observeOrStop(apiKey: string, deployment: Deployment, pod: PodInfo | null): Promise<void> {
    // A user's stop whose terminate call failed is finished here.
    if (
      deployment.stopRequestedReason === StopReason.USER &&
      ACTIVE_DEPLOYMENT_STATUSES.includes(deployment.status) &&
      pod
    ) {
      try {
        await this.runpod.terminatePod(apiKey, pod.id);
        await this.deployments.podTerminated(deployment.id, "user");
        await this.deployments.signal(deployment.id, { type: "STOP", reason: StopReason.USER });
        return;
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        this.logger.warn(
          { deploymentId: deployment.id, err: error.message },
          "could not terminate a stopped deployment's pod",
        );
      }
    }
    await this.deployments.observe(deployment.id, pod);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
