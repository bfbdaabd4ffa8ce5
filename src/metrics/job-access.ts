import type { DataSource } from "typeorm";
import { jobTokenMatches } from "../auth/job-token";
import { isUuid } from "../db/ids";
import { ACTIVE_DEPLOYMENT_STATUSES, type DeploymentStatus } from "../deployments/deployment.enums";
import { FINISHED_JOB_STATUSES, type JobStatus } from "../jobs/training-job.enums";
import type { GpuType } from "../runpod/gpu-catalogue";

/** What the callback routes need to know about a job, fresh to within `ttlMs`. */
export interface JobAccess {
  jobId: string;
  userId: string;
  deploymentId: string;
  jobStatus: JobStatus;
  deploymentStatus: DeploymentStatus;
  /** The trainer should save a checkpoint and exit: the deployment is being stopped. */
  stop: boolean;
  finished: boolean;
  /** The pod's cards and the deployment's NaN action, for the training-health rules. */
  gpuType: GpuType;
  gpuCount: number;
  stopOnNaN: boolean;
}

interface Entry {
  access: JobAccess;
  tokenHash: string;
  expiresAt: number;
}

/**
 * Checks pod tokens and answers the job's state for the callback routes. A pod posts every few seconds and a
 * busy gateway serves thousands of posts a second, so rows are cached for a moment (one second by default):
 * the stop flag and a job's end reach the trainer on its next post at most that late.
 */
export class JobAccessCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly db: DataSource,
    private readonly ttlMs = 1_000,
    private readonly maxEntries = 50_000,
  ) {}

  /** The job, when `token` is its token; undefined for a wrong token and an unknown job alike. */
  async authorize(jobId: string, token: string | undefined): Promise<JobAccess | undefined> {
    if (!token || !isUuid(jobId)) return undefined;
    // A UUID names the same row in any letter case; the row's own spelling (lower case) is the one used for
    // topics, rate limits and this cache, so every spelling of one job is one job.
    const id = jobId.toLowerCase();
    let entry = this.entries.get(id);
    if (!entry || entry.expiresAt <= Date.now()) {
      entry = await this.load(id);
      if (!entry) return undefined;
    }
    return jobTokenMatches(token, entry.tokenHash) ? entry.access : undefined;
  }

  /** Forgets a job, so the next request reads it again (after the gateway itself changed it). */
  invalidate(jobId: string): void {
    this.entries.delete(jobId.toLowerCase());
  }

  private async load(jobId: string): Promise<Entry | undefined> {
    const [row] = await this.db.query<
      {
        id: string;
        job_token_hash: string;
        user_id: string;
        status: JobStatus;
        deployment_id: string;
        deployment_status: DeploymentStatus;
        stop_requested_at: Date | null;
        gpu_type: GpuType;
        gpu_count: number;
        stop_on_nan: boolean;
      }[]
    >(
      `SELECT j.id, j.job_token_hash, j.user_id, j.status, d.id AS deployment_id, d.status AS deployment_status, d.stop_requested_at,
              d.gpu_type, d.gpu_count, d.stop_on_nan
       FROM training_jobs j JOIN cloud_deployments d ON d.job_id = j.id WHERE j.id = $1`,
      [jobId],
    );
    if (!row) return undefined;
    const finished = FINISHED_JOB_STATUSES.includes(row.status);
    const entry: Entry = {
      tokenHash: row.job_token_hash,
      expiresAt: Date.now() + this.ttlMs,
      access: {
        jobId: row.id,
        userId: row.user_id,
        deploymentId: row.deployment_id,
        jobStatus: row.status,
        deploymentStatus: row.deployment_status,
        stop: row.stop_requested_at !== null || !ACTIVE_DEPLOYMENT_STATUSES.includes(row.deployment_status),
        finished,
        gpuType: row.gpu_type,
        gpuCount: row.gpu_count,
        stopOnNaN: row.stop_on_nan,
      },
    };
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(jobId, entry);
    return entry;
  }
}
