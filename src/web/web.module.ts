import express from "express";
import type { GatewayModule } from "../composition/gateway-module";
import { mountWebRoutes } from "./routes";

/** The dashboard and the playground, served by Express; the rest of the request goes on to `/graphql`. */
export function createWebModule(options: { playgroundEnabled: boolean }): GatewayModule {
  const pages = express();
  // A mounted app adds its own X-Powered-By; the gateway sends none.
  pages.disable("x-powered-by");
  mountWebRoutes(pages, options);
  return { pages };
}
