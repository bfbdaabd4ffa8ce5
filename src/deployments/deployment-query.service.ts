import { Brackets, type DataSource } from "typeorm";
import { isUuid } from "../db/ids";
import { Deployment } from "./deployment.entity";
import { DeploymentEvent } from "./deployment-event.entity";
import { deploymentErrors } from "./deployment.errors";
import type { DeploymentConnection, DeploymentFilter } from "./deployment.types";

export const MAX_PAGE_SIZE = 100;

/** Reads of the caller's deployments: one by id, and pages ordered newest first. */
export class DeploymentQueryService {
  constructor(private readonly db: DataSource) {}

  async get(userId: string, id: string): Promise<Deployment> {
    const deployment = isUuid(id) ? await this.db.getRepository(Deployment).findOneBy({ id, userId }) : null;
    if (!deployment) throw deploymentErrors.notFound();
    return deployment;
  }

  /** A deployment's audit trail, oldest first (the caller owns the deployment). */
  events(deploymentId: string): Promise<DeploymentEvent[]> {
    return this.db
      .getRepository(DeploymentEvent)
      .find({ where: { deploymentId }, order: { id: "ASC" }, take: 1000 });
  }

  /**
   * A Relay connection over (created_at desc, id desc) with keyset pagination: a page costs the same however
   * deep it is, and rows inserted meanwhile never shift what the next page returns.
   */
  async list(
    userId: string,
    filter: DeploymentFilter | null | undefined,
    first: number | null | undefined,
    after: string | null | undefined,
  ): Promise<DeploymentConnection> {
    const size = first ?? 20;
    if (!Number.isInteger(size) || size < 0 || size > MAX_PAGE_SIZE) {
      throw deploymentErrors.badInput("first", `must be from 0 to ${MAX_PAGE_SIZE}`);
    }
    const cursor = after ? decodeCursor(after) : undefined;

    const filtered = () => {
      const qb = this.db
        .getRepository(Deployment)
        .createQueryBuilder("d")
        .where("d.user_id = :userId", { userId });
      if (filter?.status?.length) qb.andWhere("d.status IN (:...statuses)", { statuses: filter.status });
      if (filter?.gpuType?.length) qb.andWhere("d.gpu_type IN (:...gpuTypes)", { gpuTypes: filter.gpuType });
      if (filter?.createdAfter)
        qb.andWhere("d.created_at > :createdAfter", { createdAfter: filter.createdAfter });
      if (filter?.createdBefore)
        qb.andWhere("d.created_at < :createdBefore", { createdBefore: filter.createdBefore });
      return qb;
    };

    const page = filtered();
    if (cursor) {
      page.andWhere(
        new Brackets((b) =>
          b
            .where("d.created_at < :cursorAt", { cursorAt: cursor.createdAt })
            .orWhere("d.created_at = :cursorAt AND d.id < :cursorId", { cursorId: cursor.id }),
        ),
      );
    }
    const rows =
      size === 0
        ? []
        : await page
            .orderBy("d.created_at", "DESC")
            .addOrderBy("d.id", "DESC")
            .take(size + 1)
            .getMany();
    const hasNextPage = rows.length > size;
    const edges = rows.slice(0, size).map((node) => ({ cursor: encodeCursor(node), node }));
    let count: Promise<number> | undefined;
    return {
      edges,
      pageInfo: { hasNextPage, endCursor: edges.at(-1)?.cursor ?? null },
      // Counted only when asked for: an exact count over a large account costs more than the page itself.
      get totalCount() {
        return (count ??= filtered().getCount());
      },
    };
  }
}

export function encodeCursor(row: { createdAt: Date; id: string }): string {
  return Buffer.from(JSON.stringify([row.createdAt.toISOString(), row.id])).toString("base64url");
}

export function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (
      Array.isArray(parsed) &&
      parsed.length === 2 &&
      typeof parsed[0] === "string" &&
      typeof parsed[1] === "string"
    ) {
      const createdAt = new Date(parsed[0]);
      if (!Number.isNaN(createdAt.getTime()) && isUuid(parsed[1])) return { createdAt, id: parsed[1] };
    }
  } catch {
    // fall through to the error below
  }
  throw deploymentErrors.badInput("after", "is not a cursor this API returned");
}
