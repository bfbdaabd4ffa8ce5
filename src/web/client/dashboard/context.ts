import type { AlertsPanel } from "./views/alerts";
import type { GatewayClient } from "./gateway";
import type { Router } from "./router";

/** What every page gets from the signed-in shell. */
export interface AppContext {
  client: GatewayClient;
  router: Router;
  alerts: AlertsPanel;
}

/** A page: its element, its document title, and the cleanup that ends its subscriptions and timers. */
export interface View {
  element: HTMLElement;
  title: string;
  /** Moves focus to the page's heading after navigation, for keyboard and screen-reader users. */
  focus?(): void;
  dispose(): void;
}
