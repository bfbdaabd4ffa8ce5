import type { NodeSource } from "../relay/node.types";
import type { UserService } from "./user.service";

/** The caller as `User`, for `node(id)`: a user id names only the caller themself, never anyone else. */
export function userNodes(users: UserService): NodeSource {
  return {
    find: async (userId, ids) => new Map(ids.includes(userId) ? [[userId, await users.get(userId)]] : []),
  };
}
