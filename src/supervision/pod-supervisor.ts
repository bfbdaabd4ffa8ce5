import type { Logger } from "pino";
import { In, type DataSource } from "typeorm";
import { budgetDecision, BudgetAction, STOPPED_THRESHOLD, STOPPING_THRESHOLD } from "../costs/budget";
import { runningMicrosPerHour } from "../costs/pricing";
import { isUuid } from "../db/ids";
import {
  ACTIVE_DEPLOYMENT_STATUSES,
  CompletionAction,
  DeploymentStatus,
  isActive,
  StopReason,
} from "../deployments/deployment.enums";
import { Deployment } from "../deployments/deployment.entity";
import type { Look } from "../deployments/deployment-transitions";
import type { DeploymentService } from "../deployments/deployment.service";
import { deploymentIdOfPod, podName } from "../deployments/pod-name";
import { AppError } from "../errors/app-error";
import type { JobStatus } from "../jobs/training-job.enums";
import { PodStatus, type PodInfo, type RunpodClient } from "../runpod/runpod-client";
import { Provider } from "../secrets/provider";
import type { ProviderSecretService } from "../secrets/provider-secret.service";
import type { TrainingAlerts } from "../training-alerts/training-alerts";
import type { BudgetAlerts } from "./budget-alerts";

export interface SupervisorDeps {
  db: DataSource;
  runpod: RunpodClient;
  secrets: ProviderSecretService;
  deployments: DeploymentService;
  alerts: BudgetAlerts;
  /** The training-health judge: a running pod that stopped posting metrics is found in this pass. */
  health?: Pick<TrainingAlerts, "judgeStalls">;
  /**
   * The jobs among those given whose result the gateway stores, complete and verified (the artifacts). Without
   * it no result counts as stored at the gateway, and a finished run's stopped pod is kept.
   */
  storedResults?: (jobIds: readonly string[]) => Promise<ReadonlySet<string>>;
  logger: Logger;
}

export interface SupervisorOptions {
  /**
   * How often the supervisor runs (WATCHDOG_INTERVAL_MS): a running pod's cost is at most this old when the
   * budget is judged. Default 15 s.
   */
  intervalMs?: number;
  /**
   * How often the accounts with no active deployment are looked at too (their finished runs' pods, recent
   * accounts that may hold stray pods): SYNC_INTERVAL_MS. Default: every run.
   */
  sweepIntervalMs?: number;
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
  /** How far back the sweep looks for users whose accounts may hold TrainGate pods. Default 30 days. */
  lookbackMs?: number;
  now?: () => Date;
}

export interface SupervisorReport {
  /** Accounts whose pods were listed. */
  users: number;
  /** Deployments whose pod was looked at. */
  observed: number;
  /** Running deployments whose budget was judged. */
  checked: number;
  alerts: number;
  stopsRequested: number;
  /** Pods terminated for their budget or maximum duration. */
  terminated: number;
  /** Runs stopped by their health actions (a stalled pod). */
  healthStops: number;
  orphansTerminated: number;
  usersSkipped: number;
  /** QUEUED deployments tried again (or failed, their wait over). */
  queuedRetried: number;
}

/** Deployments (alias `d`) that may still hold a pod: what the supervisor looks at (`active`: the active statuses). */
const TRACKED = "d.pod_terminated_at IS NULL AND (d.status IN (:...active) OR d.pod_id IS NOT NULL)";

/** Deployments read, looked at and written together; the event loop is free between two pages. */
const PAGE_SIZE = 200;

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** How long a finished run's bootstrap has to end its own pod before the reaper does it. */
const FINISHED_POD_GRACE_MS = 10 * 60_000;

/**
 * The one owner of the pods, run by one replica at a time (the leader). Everything it knows comes from the
 * database and from RunPod, so a restart or a failover loses nothing. Per user account, with one listing of
 * the account's pods:
 *
 * 1. every deployment that may still hold a pod is observed (status follows, cost accrues, a vanished pod
 *    closes the deployment); a user's stop whose terminate call failed is finished;
 * 2. the budget is judged for each running one: thresholds raise alerts (once each), the trainer is asked to
 *    stop at 95 % or before the next look would pass the budget, and the pod is terminated at 100 % or past its
 *    maximum running time;
 * 3. a pod whose container has not come up within the start-up deadline is terminated and its run failed; a
 *    running one that stopped posting metrics is alerted, and stopped after its stall window (health actions);
 * 4. a deployment stuck in CREATING past the grace period lost its creator mid-create: its pod, found by name,
 *    is terminated (ORPHANED);
 * 5. every `traingate-*` pod that no deployment owns, or whose deployment is finished, is reaped, except a
 *    stopped pod whose disk may hold the only copy of the result (onComplete STOP, or a result not delivered to
 *    the gateway, the Hub or a network volume);
 * 6. a QUEUED deployment (waitForCapacityMinutes) whose next try is due is launched again, or failed once its
 *    wait is over.
 *
 * Every pod it ends goes through `DeploymentService.terminate`.
 */
export class PodSupervisor {
  private readonly intervalMs: number;
  private readonly sweepIntervalMs: number;
  private readonly orphanGraceMs: number;
  private readonly podStartTimeoutMs: number;
  private readonly lookbackMs: number;
  private readonly now: () => Date;
  private lastSweep: number | undefined;

  constructor(
    private readonly deps: SupervisorDeps,
    options: SupervisorOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 15_000;
    this.sweepIntervalMs = options.sweepIntervalMs ?? 0;
    this.orphanGraceMs = options.orphanGraceMs ?? 120_000;
    this.podStartTimeoutMs = options.podStartTimeoutMs ?? 15 * 60_000;
    this.lookbackMs = options.lookbackMs ?? 30 * 24 * 3600_000;
    this.now = options.now ?? (() => new Date());
  }

  async tick(): Promise<SupervisorReport> {
    const report: SupervisorReport = {
      users: 0,
      observed: 0,
      checked: 0,
      alerts: 0,
      stopsRequested: 0,
      terminated: 0,
      healthStops: 0,
      orphansTerminated: 0,
      usersSkipped: 0,
      queuedRetried: 0,
    };
    const now = this.now().getTime();
    const sweep = this.lastSweep === undefined || now - this.lastSweep >= this.sweepIntervalMs;
    // Accounts with something active are looked at every run; the others on the sweep's schedule.
    const accounts = await this.deps.db
      .getRepository(Deployment)
      .createQueryBuilder("d")
      .select("d.user_id", "user_id")
      .addSelect("bool_or(d.status IN (:...active))", "active")
      .where(TRACKED, { active: ACTIVE_DEPLOYMENT_STATUSES })
      .groupBy("d.user_id")
      .getRawMany<{ user_id: string; active: boolean }>();
    const users = new Set(accounts.filter((a) => a.active).map((a) => a.user_id));
    if (sweep) {
      this.lastSweep = now;
      for (const account of accounts) users.add(account.user_id);
      const recent: { user_id: string }[] = await this.deps.db.query(
        `SELECT DISTINCT user_id FROM cloud_deployments WHERE created_at > $1`,
        [new Date(now - this.lookbackMs)],
      );
      for (const row of recent) users.add(row.user_id);
    }
    for (const userId of users) {
      try {
        await this.superviseUser(userId, report);
      } catch (error) {
        report.usersSkipped += 1;
        this.deps.logger.warn({ userId, err: describe(error) }, "could not supervise a user's pods");
      }
    }
    return report;
  }

  /**
   * One account: its pods listed once, then its tracked deployments a page at a time (each page read, looked at
   * and written in a few statements, with the event loop free between pages), then its stray pods reaped.
   */
  private async superviseUser(userId: string, report: SupervisorReport): Promise<void> {
    const { runpod, secrets, logger } = this.deps;
    const apiKey = await secrets.reveal(userId, Provider.RUNPOD);
    if (!apiKey) {
      const [tracked] = await this.trackedPage(userId, null, 1);
      if (tracked) {
        report.usersSkipped += 1;
        logger.warn({ userId }, "cannot supervise pods: the user's RunPod key is gone");
      }
      // A queued deployment still ends when its wait does, key or not.
      await this.retryQueued(userId, report);
      return;
    }
    const pods = await runpod.listPods(apiKey);
    report.users += 1;
    const byId = new Map(pods.map((pod) => [pod.id, pod]));
    const byName = new Map(pods.map((pod) => [pod.name, pod]));
    for (let after: string | null = null; ;) {
      const page = await this.trackedPage(userId, after, PAGE_SIZE);
      if (page.length === 0) break;
      after = page[page.length - 1].id;
      await this.supervisePage(apiKey, page, byId, byName, report);
      if (page.length < PAGE_SIZE) break;
      await yieldToEventLoop();
    }
    await this.reap(apiKey, pods, report);
    await this.retryQueued(userId, report);
  }

  /**
   * The account's QUEUED deployments whose next try is due (or whose wait is over): each is tried again through
   * the deploy's own launch, one at a time. An upstream error leaves it for the next run.
   */
  private async retryQueued(userId: string, report: SupervisorReport): Promise<void> {
    const now = this.now();
    const due = await this.deps.db
      .getRepository(Deployment)
      .createQueryBuilder("d")
      .select("d.id", "id")
      .where("d.user_id = :userId AND d.status = :queued", { userId, queued: DeploymentStatus.QUEUED })
      .andWhere("(d.next_launch_at <= :now OR d.queued_until <= :now)", { now })
      .orderBy("d.next_launch_at")
      .getRawMany<{ id: string }>();
    for (const { id } of due) {
      try {
        await this.deps.deployments.retryQueued(id, now);
        report.queuedRetried += 1;
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        this.deps.logger.warn(
          { deploymentId: id, err: error.message },
          "could not retry a queued deployment; retried on the next run",
        );
      }
    }
  }

  /** A page of the account's deployments that may hold a pod, in id order after `after`. */
  private trackedPage(userId: string, after: string | null, size: number): Promise<Deployment[]> {
    const query = this.deps.db
      .getRepository(Deployment)
      .createQueryBuilder("d")
      .where("d.user_id = :userId", { userId })
      .andWhere(TRACKED, { active: ACTIVE_DEPLOYMENT_STATUSES })
      .orderBy("d.id")
      .take(size);
    if (after) query.andWhere("d.id > :after", { after });
    return query.getMany();
  }

  /**
   * Looks at a page of deployments. A look that only brings cost up to date is written for the whole page at
   * once and its budget judged from what was written; a look that moves a status (the pod came up, stopped, is
   * gone), and a user's stop still to finish, goes through the deployment's own transition, one at a time.
   */
  private async supervisePage(
    apiKey: string,
    page: Deployment[],
    byId: Map<string, PodInfo>,
    byName: Map<string, PodInfo>,
    report: SupervisorReport,
  ): Promise<void> {
    const { db, runpod, deployments, alerts, logger } = this.deps;
    const jobStatuses = new Map(
      (
        await db.query<{ id: string; status: JobStatus }[]>(
          `SELECT id, status FROM training_jobs WHERE id = ANY($1::uuid[])`,
          [page.map((d) => d.jobId)],
        )
      ).map((row) => [row.id, row.status]),
    );
    const looks: Look[] = [];
    const oneByOne: Deployment[] = [];
    const podOf = new Map<string, PodInfo | null>();
    for (const deployment of page) {
      try {
        if (deployment.podId) {
          // Not listed: confirm before closing anything (a list can lag a create).
          const pod = byId.get(deployment.podId) ?? (await runpod.getPod(apiKey, deployment.podId));
          podOf.set(deployment.id, pod);
          const userStop =
            deployment.stopRequestedReason === StopReason.USER && isActive(deployment.status) && pod;
          const jobStatus = jobStatuses.get(deployment.jobId);
          if (userStop || jobStatus === undefined) oneByOne.push(deployment);
          else looks.push({ deployment, jobStatus, pod });
        } else if (
          deployment.status === DeploymentStatus.CREATING &&
          this.now().getTime() - deployment.createdAt.getTime() > this.orphanGraceMs
        ) {
          await this.closeInterruptedCreate(apiKey, deployment, byName.get(podName(deployment.id)), report);
        }
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        logger.warn(
          { deploymentId: deployment.id, err: error.message },
          "could not supervise a deployment's pod; retried on the next run",
        );
      }
    }
    const { accrued, moving } = await deployments.accrueMany(looks);
    report.observed += accrued.length;
    const raised = await alerts.raisedMany(accrued.filter((d) => isActive(d.status)).map((d) => d.id));
    for (const deployment of accrued) {
      await this.afterLook(apiKey, deployment, podOf.get(deployment.id) ?? null, report, () =>
        isActive(deployment.status)
          ? this.judgeBudget(apiKey, deployment, raised.get(deployment.id) ?? new Set(), report)
          : Promise.resolve(false),
      );
    }
    for (const deployment of [...oneByOne, ...moving]) {
      const pod = podOf.get(deployment.id) ?? null;
      await this.afterLook(apiKey, deployment, pod, report, async () => {
        await this.observe(apiKey, deployment, pod);
        report.observed += 1;
        return isActive(deployment.status) && (await this.judgeBudgetAfresh(apiKey, deployment.id, report));
      });
    }
    await this.judgeStalls(apiKey, page, report);
  }

  /**
   * The page's running deployments whose pod went quiet (read afresh: the looks above may have ended some). An
   * upstream error is logged and the stall judged again on the next run.
   */
  private async judgeStalls(apiKey: string, page: Deployment[], report: SupervisorReport): Promise<void> {
    const { health, logger } = this.deps;
    if (!health) return;
    try {
      report.healthStops += await health.judgeStalls(
        apiKey,
        page.filter((d) => d.podId !== null).map((d) => d.id),
        this.now(),
      );
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      logger.warn({ err: error.message }, "could not judge stalled pods; judged again on the next run");
    }
  }

  /**
   * Judges what a look found (`judge`: true when it ended the pod), then fails a start that is overdue. An
   * upstream error is logged and the deployment looked at again next time.
   */
  private async afterLook(
    apiKey: string,
    deployment: Deployment,
    pod: PodInfo | null,
    report: SupervisorReport,
    judge: () => Promise<boolean>,
  ): Promise<void> {
    try {
      const ended = await judge();
      if (!ended && pod?.status === PodStatus.STARTING && this.startOverdue(deployment)) {
        await this.failStart(apiKey, deployment, pod.id);
      }
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      this.deps.logger.warn(
        { deploymentId: deployment.id, err: error.message },
        "could not supervise a deployment's pod; retried on the next run",
      );
    }
  }

  /** One look at the pod; a user's stop whose terminate call failed is finished here instead. */
  private async observe(apiKey: string, deployment: Deployment, pod: PodInfo | null): Promise<void> {
    const { deployments, logger } = this.deps;
    if (deployment.stopRequestedReason === StopReason.USER && isActive(deployment.status) && pod) {
      try {
        await deployments.terminate(
          deployment.id,
          { type: "STOP", reason: StopReason.USER },
          { apiKey, by: "user" },
        );
        return;
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        logger.warn(
          { deploymentId: deployment.id, err: error.message },
          "could not terminate a stopped deployment's pod",
        );
      }
    }
    await deployments.observe(deployment.id, pod);
  }

  /**
   * Judges the budget of a deployment that was running after a look that moved its status: read again, since the
   * transition may have finished it. True when the pod was terminated here.
   */
  private async judgeBudgetAfresh(
    apiKey: string,
    deploymentId: string,
    report: SupervisorReport,
  ): Promise<boolean> {
    const { db, alerts } = this.deps;
    const deployment = await db.getRepository(Deployment).findOneBy({ id: deploymentId });
    if (!deployment) return false;
    const raised = await alerts.raised(deployment.id);
    if (!isActive(deployment.status)) {
      // It finished meanwhile (RunPod's terminateAfter, or the trainer stopping at the flag). The replica that
      // saw it finish announced it (the finished listener); this covers one that went down before it could.
      if (!raised.has(STOPPED_THRESHOLD) && (await alerts.budgetStopped(deployment))) report.alerts += 1;
      return false;
    }
    return this.judgeBudget(apiKey, deployment, raised, report);
  }

  /** Judges the budget of a running deployment on its freshly accrued cost. True when the pod was terminated. */
  private async judgeBudget(
    apiKey: string,
    deployment: Deployment,
    raised: Set<number>,
    report: SupervisorReport,
  ): Promise<boolean> {
    const { deployments, alerts } = this.deps;
    report.checked += 1;
    const decision = budgetDecision({
      actualMicros: deployment.actualCostMicros,
      budgetMicros: deployment.budgetLimitMicros,
      perHourMicros: runningMicrosPerHour(deployment.costPerHourMicros ?? 0, {
        volumeGb: deployment.config.volumeSizeGb,
        containerGb: deployment.config.containerDiskGb,
      }),
      intervalSeconds: this.intervalMs / 1000,
      uptimeSeconds: deployment.uptimeSeconds,
      maxDurationMinutes: deployment.maxDurationMinutes,
      raised,
      stopRequested: deployment.stopRequestedAt !== null,
    });
    for (const threshold of decision.notify) {
      if (await alerts.raise(deployment, threshold, BudgetAction.NOTIFIED)) report.alerts += 1;
    }
    if (decision.requestStop) {
      await deployments.requestStop(deployment.id, StopReason[decision.requestStop]);
      report.stopsRequested += 1;
      if (
        decision.requestStop === "BUDGET_EXCEEDED" &&
        (await alerts.raise(deployment, STOPPING_THRESHOLD, BudgetAction.STOPPING))
      ) {
        report.alerts += 1;
      }
    }
    if (!decision.terminate) return false;
    // The STOPPED alert follows from the deployment finishing (the finished listener), as for every other path.
    await deployments.terminate(
      deployment.id,
      { type: "STOP", reason: StopReason[decision.terminate] },
      { apiKey, by: `supervisor: ${decision.terminate}` },
    );
    report.terminated += 1;
    return true;
  }

  private startOverdue(deployment: Deployment): boolean {
    return (
      deployment.status === DeploymentStatus.STARTING &&
      this.now().getTime() - deployment.createdAt.getTime() > this.podStartTimeoutMs
    );
  }

  /**
   * Fails a run whose container never came up, terminating its pod. A trainer report that arrived meanwhile
   * wins (the state machine decides); a terminate that fails is retried on the next run.
   */
  private async failStart(apiKey: string, deployment: Deployment, podId: string): Promise<void> {
    const minutes = Math.round(this.podStartTimeoutMs / 60_000);
    const message =
      `the pod's container never started: it did not report running within ${minutes} minutes of creation, ` +
      "most likely because the host's CUDA driver is older than the image needs or the image cannot be " +
      "pulled; the pod was terminated";
    const failed = await this.deps.deployments.terminate(
      deployment.id,
      { type: "START_TIMED_OUT" },
      {
        apiKey,
        by: "start-timeout",
        update: { errorMessage: message },
        jobUpdate: { errorMessage: message },
      },
    );
    if (failed)
      this.deps.logger.warn({ deploymentId: deployment.id, podId }, "a pod's container never started");
  }

  /** A deployment whose creator died mid-create: its pod, if RunPod made it, is terminated. */
  private async closeInterruptedCreate(
    apiKey: string,
    deployment: Deployment,
    pod: PodInfo | undefined,
    report: SupervisorReport,
  ): Promise<void> {
    const { deployments } = this.deps;
    if (!pod) {
      await deployments.signal(
        deployment.id,
        { type: "CREATE_FAILED" },
        { errorMessage: "the pod was never created: the gateway stopped during the attempt" },
      );
      return;
    }
    await deployments.terminate(
      deployment.id,
      { type: "STOP", reason: StopReason.ORPHANED },
      {
        apiKey,
        by: "reaper",
        podId: pod.id,
        update: {
          errorMessage: "the gateway stopped while this pod was being created; the pod was terminated",
        },
        event: { kind: "reaper.terminated", detail: { podId: pod.id, reason: "creation interrupted" } },
      },
    );
    report.orphansTerminated += 1;
  }

  /** Pods named like ours that nothing running owns. */
  private async reap(apiKey: string, pods: PodInfo[], report: SupervisorReport): Promise<void> {
    const { db, runpod, deployments, logger } = this.deps;
    const candidates = pods.flatMap((pod) => {
      const ownerId = deploymentIdOfPod(pod.name);
      return ownerId === null ? [] : [{ pod, ownerId }];
    });
    const ids = candidates.map((c) => c.ownerId).filter(isUuid);
    const owners = ids.length ? await db.getRepository(Deployment).findBy({ id: In(ids) }) : [];
    const ownerById = new Map(owners.map((d) => [d.id, d]));
    const safe = await this.resultsSafeElsewhere(
      candidates.flatMap(({ pod, ownerId }) => {
        const owner = ownerById.get(ownerId);
        return owner && this.stoppedPodMayGo(owner, pod) ? [owner] : [];
      }),
    );
    for (const { pod, ownerId } of candidates) {
      const owner = ownerById.get(ownerId);
      const action = owner ? this.orphanAction(owner, pod, safe.has(owner.id)) : "terminate";
      if (action === "keep") continue;
      logger.warn(
        { podId: pod.id, deploymentId: owner?.id ?? null, action },
        "reaping a pod nothing running owns",
      );
      if (action === "stop") {
        // The run finished and asked to keep its disk, but its pod still runs the GPU: stop, do not destroy.
        await runpod.stopPod(apiKey, pod.id);
        if (owner) await deployments.recordEvent(owner.id, "reaper.stopped", { podId: pod.id });
        continue;
      }
      if (owner && owner.podId === pod.id) {
        // A finished deployment's own pod: ended, and recorded, where every pod is.
        await deployments.terminate(
          owner.id,
          { type: "STOP", reason: StopReason.ORPHANED },
          {
            apiKey,
            by: "reaper",
            podId: pod.id,
            event: { kind: "reaper.terminated", detail: { podId: pod.id } },
          },
        );
      } else {
        // A duplicate, or a pod no deployment owns: no deployment's state changes.
        await runpod.terminatePod(apiKey, pod.id);
        if (owner) await deployments.recordEvent(owner.id, "reaper.terminated", { podId: pod.id });
      }
      report.orphansTerminated += 1;
    }
  }

  /**
   * What to do with a pod named after `owner`. An active deployment keeps its own pod (and one still being
   * recorded). A finished one keeps a stopped pod whose disk may hold the result (onComplete STOP, a failed
   * upload, a run stopped from outside before it delivered), though its volume is still billed;
   * `stopDeployment` terminates it. A stopped pod of a finished run that asked to be terminated (onComplete
   * TERMINATE) and whose result is safe elsewhere (`resultSafe`) is terminated: a stop from outside (RunPod's
   * podStop, the console) leaves it stopped, and the bootstrap leaves a pod alone after a signal. A finished
   * deployment's pod that still runs after the grace period (the bootstrap should have ended it) is stopped when
   * its disk was meant to be kept, and terminated otherwise. Any other pod of that name is a duplicate and is
   * terminated.
   */
  private orphanAction(owner: Deployment, pod: PodInfo, resultSafe: boolean): "keep" | "stop" | "terminate" {
    if (isActive(owner.status)) {
      return owner.podId !== null && owner.podId !== pod.id ? "terminate" : "keep";
    }
    if (owner.podId !== pod.id) return "terminate";
    if (pod.status === PodStatus.STOPPED) {
      return this.stoppedPodMayGo(owner, pod) && resultSafe ? "terminate" : "keep";
    }
    const finishedAt = (owner.completedAt ?? owner.updatedAt).getTime();
    if (this.now().getTime() - finishedAt < FINISHED_POD_GRACE_MS) return "keep";
    return owner.status === DeploymentStatus.COMPLETED && owner.output?.onComplete === CompletionAction.STOP
      ? "stop"
      : "terminate";
  }

  /** A stopped pod of a finished deployment that asked for its pod to be terminated once the run was over. */
  private stoppedPodMayGo(owner: Deployment, pod: PodInfo): boolean {
    return (
      !isActive(owner.status) &&
      owner.podId === pod.id &&
      pod.status === PodStatus.STOPPED &&
      owner.output?.onComplete === CompletionAction.TERMINATE
    );
  }

  /**
   * Which of `owners` have their run's result somewhere other than their pod's disk: stored complete and verified
   * at the gateway, or reported delivered (the job's artifactUri) to the Hub repo or onto the network volume the
   * deployment names. A result only on the pod (`pod://…`), or none reported, is not safe.
   */
  private async resultsSafeElsewhere(owners: readonly Deployment[]): Promise<Set<string>> {
    if (owners.length === 0) return new Set();
    const jobIds = owners.map((d) => d.jobId);
    const stored = (await this.deps.storedResults?.(jobIds)) ?? new Set<string>();
    const uris = new Map(
      (
        await this.deps.db.query<{ id: string; artifact_uri: string | null }[]>(
          `SELECT id, artifact_uri FROM training_jobs WHERE id = ANY($1::uuid[])`,
          [jobIds],
        )
      ).map((row) => [row.id, row.artifact_uri]),
    );
    const safe = new Set<string>();
    for (const owner of owners) {
      const uri = uris.get(owner.jobId) ?? null;
      const volume = owner.output?.networkVolumeId ?? null;
      if (
        stored.has(owner.jobId) ||
        (uri !== null && owner.output?.hubRepoId && uri.startsWith("hf://")) ||
        (uri !== null && volume !== null && uri.startsWith(`runpod-volume://${volume}/`))
      ) {
        safe.add(owner.id);
      }
    }
    return safe;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
