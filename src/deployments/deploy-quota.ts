import type { EntityManager } from "typeorm";
import { ACTIVE_DEPLOYMENT_STATUSES } from "./deployment.enums";
import { deploymentErrors } from "./deployment.errors";

/** A user's deploy quota (MAX_ACTIVE_DEPLOYMENTS_PER_USER, MAX_DEPLOYS_PER_HOUR); 0 turns a cap off. */
export interface DeployQuota {
  /** MAX_ACTIVE_DEPLOYMENTS_PER_USER: deployments in ACTIVE_DEPLOYMENT_STATUSES at once. */
  maxActive: number;
  /** MAX_DEPLOYS_PER_HOUR: deployments created in any hour, whatever became of them. */
  maxPerHour: number;
}

/** The wait asked for at the active cap: when one of the caller's runs will end is not known; a minute is a fair poll. */
export const ACTIVE_CAP_RETRY_AFTER_SECONDS = 60;

/**
 * Serialises the deploys of one user until the transaction ends, so that two concurrent deploys cannot both
 * pass `checkDeployQuota` on the same count. Two-key form: a key space of its own, apart from the leader
 * lock's single key (leader.ts).
 */
export async function lockUserDeploys(tx: EntityManager, userId: string): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(hashtext('traingate:deploy-quota'), hashtext($1))`, [userId]);
}

/** Throws RATE_LIMITED when `userId` may not create one more deployment now. Stores nothing. */
export async function checkDeployQuota(db: EntityManager, userId: string, quota: DeployQuota): Promise<void> {
  if (quota.maxActive > 0) {
    const [{ count }] = await db.query<{ count: number }[]>(
      `SELECT count(*)::int AS count FROM cloud_deployments WHERE user_id = $1 AND status = ANY($2::text[])`,
      [userId, [...ACTIVE_DEPLOYMENT_STATUSES]],
    );
    if (count >= quota.maxActive) {
      throw deploymentErrors.activeCapReached(count, quota.maxActive, ACTIVE_CAP_RETRY_AFTER_SECONDS);
    }
  }
  if (quota.maxPerHour > 0) {
    // Of the newest `maxPerHour` deploys in the hour, the oldest is the one whose leaving the window frees a place.
    const [{ count, seconds }] = await db.query<{ count: number; seconds: number | null }[]>(
      `SELECT count(*)::int AS count,
              ceil(extract(epoch FROM min(created_at) + interval '1 hour' - now()))::int AS seconds
         FROM (SELECT created_at FROM cloud_deployments
                WHERE user_id = $1 AND created_at > now() - interval '1 hour'
                ORDER BY created_at DESC LIMIT $2) recent`,
      [userId, quota.maxPerHour],
    );
    if (count >= quota.maxPerHour) {
      const wait = Math.max(1, seconds ?? 1);
      throw deploymentErrors.hourlyCapReached(quota.maxPerHour, wait);
    }
  }
}
