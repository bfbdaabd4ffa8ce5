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

registerEnumType(JobStatus, { name: "JobStatus" });
