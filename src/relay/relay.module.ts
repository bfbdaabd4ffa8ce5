import type { GatewayModule } from "../composition/gateway-module";
import { nodeLoaders } from "./node-finder";
import { NodeResolver } from "./node.resolver";
import type { NodeSource } from "./node.types";

/** The classes of this module's resolvers (the schema is printed from them). */
export const RELAY_RESOLVERS = [NodeResolver] as const;

/** Relay's object identification (`node`, `nodes`) over the node sources of every domain. */
export function createRelayModule(deps: { sources: readonly NodeSource[] }): GatewayModule {
  return { resolvers: [new NodeResolver()], loaders: nodeLoaders(deps.sources) };
}
