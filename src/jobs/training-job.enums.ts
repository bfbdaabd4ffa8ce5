import { registerEnumType } from "type-graphql";

export enum JobStatus {
  PENDING = "PENDING",
  RUNNING = "RUNNING",
  COMPLETED = "COMPLETED",
  FAILED = "FAILED",
  CANCELLED = "CANCELLED",
}

/** Jobs that are over: their status never changes again. */
export const FINISHED_JOB_STATUSES: readonly JobStatus[] = [
  JobStatus.COMPLETED,
  JobStatus.FAILED,
  JobStatus.CANCELLED,
];

export const isJobFinished = (status: JobStatus): boolean => FINISHED_JOB_STATUSES.includes(status);

registerEnumType(JobStatus, {
  description: "where a training job is in its lifecycle",
  valuesConfig: {
    PENDING: { description: "waiting for its pod to start training" },
    RUNNING: { description: "training" },
    COMPLETED: { description: "training finished" },
    FAILED: { description: "training failed; see errorMessage" },
    CANCELLED: { description: "stopped before it finished" },
  },
  name: "JobStatus",
});
