import type { DataSource } from "typeorm";
import type { GatewayModule } from "../composition/gateway-module";
import type { NodeSource } from "../relay/node.types";
import { userNodes } from "./user.nodes";
import { UserResolver } from "./user.resolver";
import { UserService } from "./user.service";

/** The classes of this module's resolvers (the schema is printed from them). */
export const USERS_RESOLVERS = [UserResolver] as const;

export interface UsersModule extends GatewayModule {
  readonly users: UserService;
  /** The caller as a `node(id)`. */
  readonly nodes: NodeSource;
}

/** Users, created on first sight of a verified token. */
export function createUsersModule(deps: { db: DataSource }): UsersModule {
  const users = new UserService(deps.db);
  return { users, resolvers: [new UserResolver(users)], nodes: userNodes(users) };
}
