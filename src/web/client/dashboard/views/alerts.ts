import type { GatewayClient } from "../gateway";
import { h, link, replaceChildren } from "../dom";
import { absoluteTime, money } from "../format";
import { BUDGET_ALERTS, type BudgetAlert, type BudgetAlertsResult } from "../operations";
import { paths } from "../router";

const KEEP = 20;

/**
 * Budget alerts as they arrive (`budgetAlerts`), newest first, above every page. Each can be dismissed; the
 * list lives for the browser session.
 */
export class AlertsPanel {
  readonly element: HTMLElement;
  private readonly list: HTMLUListElement;
  private alerts: BudgetAlert[] = [];
  private stop: (() => void) | undefined;

  constructor() {
    this.list = h("ul", { class: "alerts__list" });
    this.element = h(
      "section",
      {
        class: "alerts",
        "data-testid": "budget-alerts",
        "aria-live": "polite",
        "aria-label": "Budget alerts",
      },
      this.list,
    );
    this.render();
  }

  start(client: GatewayClient): void {
    this.stop = client.live<BudgetAlertsResult>(BUDGET_ALERTS, () => ({}), {
      next: ({ budgetAlerts }) => this.add(budgetAlerts),
      // The stream is optional decoration: if the gateway cannot serve it, the pages still work.
      error: () => undefined,
    });
  }

  add(alert: BudgetAlert): void {
    this.alerts = [alert, ...this.alerts].slice(0, KEEP);
    this.render();
  }

  dispose(): void {
    this.stop?.();
  }

  private render(): void {
    this.element.hidden = this.alerts.length === 0;
    replaceChildren(
      this.list,
      this.alerts.map((alert) => {
        const dismiss = h(
          "button",
          { type: "button", class: "button button--ghost", "aria-label": "Dismiss alert" },
          "×",
        );
        dismiss.addEventListener("click", () => {
          this.alerts = this.alerts.filter((other) => other !== alert);
          this.render();
        });
        const severity = alert.action === "NOTIFIED" ? "warning" : "exceeded";
        return h(
          "li",
          {
            class: `alert alert--${severity}`,
            "data-testid": "budget-alert",
            "data-deployment-id": alert.deployment.id,
            "data-action": alert.action,
          },
          h(
            "span",
            {},
            h("strong", {}, describe(alert)),
            " ",
            link(paths.deployment(alert.deployment.id), {}, alert.deployment.trainingConfig.name),
            h(
              "span",
              { class: "muted" },
              ` · ${money(alert.actualCostUsd)} of ${money(alert.budgetLimitUsd)} · ${absoluteTime(alert.at)}`,
            ),
          ),
          dismiss,
        );
      }),
    );
  }
}

function describe(alert: BudgetAlert): string {
  switch (alert.action) {
    case "NOTIFIED":
      return `${alert.thresholdPercent} % of budget used:`;
    case "STOPPING":
      return "Budget reached, stopping:";
    case "STOPPED":
      return "Budget reached, stopped:";
  }
}
