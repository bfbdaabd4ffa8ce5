import type { DataSource } from "typeorm";
import { isUuid } from "../db/ids";
import { connectionPage } from "../relay/connection-page";
import type { PageArguments } from "../relay/page-arguments";
import { Deployment } from "./deployment.entity";
import { DeploymentEvent } from "./deployment-event.entity";
import { deploymentErrors } from "./deployment.errors";
import type { DeploymentConnection, DeploymentFilter } from "./deployment.types";

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
   * deep it is, and rows inserted meanwhile never shift what the next page returns; forward and backward as
   * `connectionPage` reads the Relay spec.
   */
  async list(
    userId: string,
    filter: DeploymentFilter | null | undefined,
    page: PageArguments,
  ): Promise<DeploymentConnection> {
    const after = page.after ? decodeCursor(page.after, "after") : undefined;
    const before = page.before ? decodeCursor(page.before, "before") : undefined;

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
    const { edges, pageInfo } = await connectionPage<Deployment>(page, {
      // Between the cursors: older than `after`, newer than `before` (the list runs newest first).
      window: (direction, limit) => {
        const qb = filtered();
        if (after) qb.andWhere(...keyset("<", after, "after"));
        if (before) qb.andWhere(...keyset(">", before, "before"));
        const order = direction === "forward" ? "DESC" : "ASC";
        return qb.orderBy("d.created_at", order).addOrderBy("d.id", order).take(limit).getMany();
      },
      existsBeyond: (side) =>
        filtered()
          .andWhere(
            ...(side === "previous" ? keyset(">=", after!, "previous") : keyset("<=", before!, "next")),
          )
          .getExists(),
      cursor: encodeCursor,
    });
    let count: Promise<number> | undefined;
    return {
      edges,
      pageInfo,
      // Counted only when asked for: an exact count over a large account costs more than the page itself.
      get totalCount() {
        return (count ??= filtered().getCount());
      },
    };
  }
}

/** A position in the list: the row's creation time and id (ties on the time are broken by the id). */
interface Cursor {
  createdAt: Date;
  id: string;
}

/** The condition "(created_at, id) `op` the cursor's", with parameters named after `name`. */
function keyset(
  op: "<" | ">" | "<=" | ">=",
  cursor: Cursor,
  name: string,
): [string, Record<string, unknown>] {
  return [
    `(d.created_at, d.id) ${op} (:${name}At, :${name}Id)`,
    { [`${name}At`]: cursor.createdAt, [`${name}Id`]: cursor.id },
  ];
}

export function encodeCursor(row: Cursor): string {
  return Buffer.from(JSON.stringify([row.createdAt.toISOString(), row.id])).toString("base64url");
}

/** The position `cursor` names; a string this API did not issue is refused, naming the argument it came in. */
export function decodeCursor(cursor: string, argument: "after" | "before"): Cursor {
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
  throw deploymentErrors.badInput(argument, "is not a cursor this API returned");
}
