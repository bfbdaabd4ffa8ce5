import type { GatewayModule } from "../composition/gateway-module";

/**
 * costs/ is pure: money in micro-dollars, pricing and accrual, the projection, the budget decision. It adds no
 * resolver, route or background work of its own: the cost report (it reads deployments) is served by the
 * deployments module, and the budget is enforced by the supervision module, both with these functions.
 */
export function createCostsModule(): GatewayModule {
  return {};
}
