import type { DataSource } from "typeorm";
import { isUuid } from "../db/ids";
import { pageSizes, type PageArguments } from "../relay/page-arguments";
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
   * deep it is, and rows inserted meanwhile never shift what the next page returns. `first`/`after` page
   * forward, `last`/`before` backward, as the Relay cursor connections spec says (both: the first `first` of the
   * window between the cursors, then the last `last` of those). Where the spec lets a server answer false without
   * looking (hasPreviousPage past `after` when paging forward, hasNextPage past `before` backward), one EXISTS
   * query looks, so a client gets the truth.
   */
  async list(
    userId: string,
    filter: DeploymentFilter | null | undefined,
    page: PageArguments,
  ): Promise<DeploymentConnection> {
    const { first, last } = pageSizes(page);
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
    // Between the cursors: older than `after`, newer than `before` (the list runs newest first).
    const between = () => {
      const qb = filtered();
      if (after) qb.andWhere(...keyset("<", after, "after"));
      if (before) qb.andWhere(...keyset(">", before, "before"));
      return qb;
    };
    /** Whether any row lies on `op`'s side of the cursor, or is the cursor's own row. */
    const existsBeyond = (op: "<=" | ">=", cursor: Cursor, name: string) =>
      filtered()
        .andWhere(...keyset(op, cursor, name))
        .getExists();

    let rows: Deployment[];
    let hasNextPage: boolean;
    let hasPreviousPage: boolean;
    if (first !== null) {
      // One row past the larger size tells whether the window holds more than `first`, and more than `last`.
      const window = await between()
        .orderBy("d.created_at", "DESC")
        .addOrderBy("d.id", "DESC")
        .take(Math.max(first, last ?? 0) + 1)
        .getMany();
      rows = window.slice(0, first);
      hasNextPage = window.length > first;
      if (last !== null) {
        rows = rows.slice(Math.max(0, rows.length - last));
        hasPreviousPage = window.length > last;
      } else {
        hasPreviousPage = after ? await existsBeyond(">=", after, "previous") : false;
      }
    } else {
      const window = await between()
        .orderBy("d.created_at", "ASC")
        .addOrderBy("d.id", "ASC")
        .take(last! + 1)
        .getMany();
      rows = window.slice(0, last!).reverse();
      hasPreviousPage = window.length > last!;
      hasNextPage = before ? await existsBeyond("<=", before, "next") : false;
    }
    const edges = rows.map((node) => ({ cursor: encodeCursor(node), node }));
    let count: Promise<number> | undefined;
    return {
      edges,
      pageInfo: {
        hasNextPage,
        hasPreviousPage,
        startCursor: edges.at(0)?.cursor ?? null,
        endCursor: edges.at(-1)?.cursor ?? null,
      },
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
