import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import type { TrainingJob } from "../jobs/training-job.entity";
import type { EventBus } from "../pubsub/event-bus";
import type { GpuOfferService } from "../runpod/gpu-offer.service";
import type { PodInfo, RunpodClient } from "../runpod/runpod-client";
import { Provider } from "../secrets/provider";
import type { ProviderSecretService } from "../secrets/provider-secret.service";
import type { TrainingConfigService } from "../training-configs/training-config.service";
import { DeploymentLauncher, type LaunchOptions } from "./deployment-launch";
import type { DeploymentQueryService } from "./deployment-query.service";
import {
  DeploymentTransitions,
  type FinishedListener,
  type Look,
  type WrittenListener,
} from "./deployment-transitions";
import { isActive, StopReason } from "./deployment.enums";
import { Deployment } from "./deployment.entity";
import { nextState, type DeploymentSignal } from "./deployment.state";
import type { DeployTrainingInput } from "./deployment.types";

export type { FinishedListener } from "./deployment-transitions";

export interface DeploymentServiceOptions extends LaunchOptions {
  now?: () => Date;
}

export interface TerminateOptions {
  /** Who ends the pod, for the audit trail (`user`, `reaper`, `supervisor: BUDGET_EXCEEDED`, …). */
  by: string;
  /** The owner's RunPod key, when the caller holds it already; else it is read from the owner's secrets. */
  apiKey?: string;
  /** The pod to end when the row names none yet (a pod found by its name after its creator died). */
  podId?: string;
  /** Columns set together with the transition (an error message). */
  update?: Partial<Deployment>;
  jobUpdate?: Partial<TrainingJob>;
  /** One more audit event, recorded with the transition. */
  event?: { kind: string; detail: Record<string, unknown> };
}

/**
 * The deployment lifecycle's public face: deploy, stop, refresh, terminate, and every state change the pod,
 * the trainer or the budget brings (through `DeploymentTransitions`, where each change is one transaction,
 * recorded in deployment_events and published on the bus after it commits).
 */
export class DeploymentService {
  private readonly transitions: DeploymentTransitions;
  private readonly launcher: DeploymentLauncher;

  constructor(
    private readonly db: DataSource,
    private readonly runpod: RunpodClient,
    offers: GpuOfferService,
    private readonly secrets: ProviderSecretService,
    configs: TrainingConfigService,
    private readonly queries: DeploymentQueryService,
    bus: EventBus,
    logger: Logger,
    options: DeploymentServiceOptions,
  ) {
    this.transitions = new DeploymentTransitions(db, bus, logger, options.now ?? (() => new Date()));
    this.launcher = new DeploymentLauncher(
      {
        db,
        runpod,
        offers,
        secrets,
        configs,
        transitions: this.transitions,
        logger,
        terminate: async (deploymentId, apiKey) => {
          await this.terminate(
            deploymentId,
            { type: "STOP", reason: StopReason.USER },
            {
              by: "stopped-during-create",
              apiKey,
            },
          );
        },
      },
      options,
    );
  }

  /** Answers the deployment, or the error that ended it (the FAILED row stays). */
  deploy(userId: string, input: DeployTrainingInput): Promise<Deployment> {
    return this.launcher.deploy(userId, input);
  }

  /** Tries a QUEUED deployment again, or fails it when its wait is over (see `DeploymentLauncher.retryQueued`). */
  retryQueued(deploymentId: string, now: Date): Promise<void> {
    return this.launcher.retryQueued(deploymentId, now);
  }

  /**
   * Stops a deployment: the stop flag is set (the trainer's next post hears it), the pod is terminated upstream,
   * then the deployment is STOPPED (USER) and its job CANCELLED. Idempotent. A finished deployment whose pod
   * was kept (onComplete STOP) gets its pod terminated. When the terminate call fails the stop flag stays and
   * the supervisor finishes the stop.
   */
  async stop(userId: string, id: string): Promise<Deployment> {
    const deployment = await this.queries.get(userId, id);
    const active = isActive(deployment.status);
    const podAlive = deployment.podId !== null && deployment.podTerminatedAt === null;
    if (!active && !podAlive) return deployment;
    if (active) await this.transitions.requestStop(deployment.id, StopReason.USER);
    await this.terminate(deployment.id, { type: "STOP", reason: StopReason.USER }, { by: "user" });
    return this.queries.get(userId, id);
  }

  /**
   * The one place a deployment's pod is ended, in this order: the pod is terminated upstream, then (one
   * transaction) the row records it with its audit event and `signal` is applied, then the change is published
   * and, when the deployment finished, the finished listeners are told. The user's stop, the budget, the
   * start-up deadline and the reaper all come here.
   *
   * Nothing is terminated when `signal` no longer applies (a trainer report that just arrived wins over the
   * start-up deadline), except for a STOP, which also ends a finished deployment's kept pod. Should the state
   * move between the upstream call and the transaction, the deployment is closed as one whose pod is gone.
   * True when something changed; an upstream failure is thrown and nothing is recorded.
   */
  async terminate(
    deploymentId: string,
    signal: DeploymentSignal,
    options: TerminateOptions,
  ): Promise<boolean> {
    const current = await this.db.getRepository(Deployment).findOne({
      where: { id: deploymentId },
      relations: { job: true },
    });
    if (!current?.job) return false;
    const podId = options.podId ?? current.podId;
    const podAlive = podId !== null && (options.podId !== undefined || current.podTerminatedAt === null);
    const applies = nextState(stateOf(current, current.job), signal) !== null;
    if (!applies && !(podAlive && signal.type === "STOP")) return false;
    if (podAlive) {
      const apiKey =
        options.apiKey ??
        (await this.secrets.require(
          current.userId,
          Provider.RUNPOD,
          "the RunPod API key the pod was created with, to terminate it",
        ));
      await this.runpod.terminatePod(apiKey, podId);
    }
    const changed = await this.transitions.transition(deploymentId, ({ deployment, job }, at) => {
      const update: Partial<Deployment> = { ...options.update };
      const events: { kind: string; detail: Record<string, unknown> }[] = [];
      if (podAlive && (options.podId !== undefined || deployment.podTerminatedAt === null)) {
        update.podTerminatedAt = at;
        if (options.podId !== undefined) update.podId = options.podId;
        events.push({ kind: "pod.terminated", detail: { podId, by: options.by } });
      }
      if (options.event) events.push(options.event);
      const stillApplies = nextState(stateOf(deployment, job), signal) !== null;
      return {
        signal:
          stillApplies || !podAlive || !isActive(deployment.status)
            ? signal
            : { type: "POD_OBSERVED", state: "GONE" },
        update,
        jobUpdate: options.jobUpdate,
        events,
        announce: true,
      };
    });
    return changed !== undefined;
  }

  /** Pulls the pod's status, uptime and price from upstream now. */
  async refresh(userId: string, id: string): Promise<Deployment> {
    const deployment = await this.queries.get(userId, id);
    if (deployment.podId && deployment.podTerminatedAt === null) {
      const apiKey = await this.secrets.require(userId, Provider.RUNPOD, "a RunPod API key");
      const pod = await this.runpod.getPod(apiKey, deployment.podId);
      await this.transitions.observe(deployment.id, pod);
    }
    return this.queries.get(userId, id);
  }

  /** Applies one look at the pod (null: RunPod no longer has it): cost accrues, the status follows. */
  observe(deploymentId: string, pod: PodInfo | null): Promise<void> {
    return this.transitions.observe(deploymentId, pod);
  }

  /** Many looks whose only effect is cost, written at once (see `DeploymentTransitions.accrueMany`). */
  accrueMany(looks: readonly Look[]): Promise<{ accrued: Deployment[]; moving: Deployment[] }> {
    return this.transitions.accrueMany(looks);
  }

  /** Applies a signal (a trainer report, a failed create); true when it changed something. */
  signal(
    deploymentId: string,
    signal: DeploymentSignal,
    extra: Partial<Deployment> = {},
    jobExtra: Partial<TrainingJob> = {},
  ): Promise<boolean> {
    return this.transitions.signal(deploymentId, signal, extra, jobExtra);
  }

  /** Sets the stop flag the metrics route answers, once; the first reason wins. */
  requestStop(deploymentId: string, reason: StopReason): Promise<boolean> {
    return this.transitions.requestStop(deploymentId, reason);
  }

  recordEvent(deploymentId: string, kind: string, detail: Record<string, unknown>): Promise<void> {
    return this.transitions.recordEvent(deploymentId, kind, detail);
  }

  /** Announces a committed change: this replica's change listeners, then the bus. */
  publish(deployment: Pick<Deployment, "id" | "userId" | "jobId">): Promise<void> {
    return this.transitions.publish(deployment);
  }

  /** `listener` is told, after the commit, of each deployment that finished on this replica, whatever the path. */
  onFinished(listener: FinishedListener): void {
    this.transitions.onFinished(listener);
  }

  /** `listener` is told, synchronously, of every committed change before it is published. */
  onChanged(listener: (deployment: Pick<Deployment, "id" | "jobId">) => void): void {
    this.transitions.onChanged(listener);
  }

  /** `listener` is told, inside the transaction, of each deployment created or whose status moved. */
  onWritten(listener: WrittenListener): void {
    this.transitions.onWritten(listener);
  }
}

const stateOf = (deployment: Deployment, job: TrainingJob) => ({
  status: deployment.status,
  jobStatus: job.status,
  stopRequestedReason: deployment.stopRequestedReason,
});
