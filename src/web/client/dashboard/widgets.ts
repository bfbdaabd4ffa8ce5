import { h } from "./dom";
import { budgetLevel, money, percent, statusLabel } from "./format";
import type { Deployment, DeploymentStatus } from "./operations";

export function statusBadge(status: DeploymentStatus): HTMLElement {
  return h(
    "span",
    {
      class: `badge badge--${status.toLowerCase()}`,
      "data-testid": "deployment-status",
      "data-status": status,
    },
    statusLabel(status),
  );
}

/** Spend against the budget: the bar turns amber at 80 % and red at 100 %. */
export function budgetMeter(
  deployment: Pick<Deployment, "actualCostUsd" | "budgetLimitUsd" | "budgetUsedPercent">,
): HTMLElement {
  const used = Math.max(0, deployment.budgetUsedPercent);
  const level = budgetLevel(used);
  const fill = h("span", { class: "meter__fill" });
  fill.style.width = `${Math.min(100, used)}%`;
  const text = `${money(deployment.actualCostUsd)} of ${money(deployment.budgetLimitUsd)}`;
  return h(
    "div",
    { class: `budget budget--${level}`, "data-testid": "budget", "data-level": level },
    h(
      "div",
      {
        class: "meter",
        role: "meter",
        "aria-label": "Budget used",
        "aria-valuemin": 0,
        "aria-valuemax": 100,
        "aria-valuenow": Math.round(used),
        "aria-valuetext": `${text} (${percent(used)})`,
      },
      fill,
    ),
    h("span", { class: "budget__text" }, text, h("span", { class: "muted" }, ` · ${percent(used)}`)),
  );
}

/** Training progress, 0–100, as a thin bar with its number. */
export function progressMeter(value: number | null, testId: string): HTMLElement {
  const bar = h("progress", { max: 100, "aria-label": "Training progress" });
  if (value !== null) bar.value = Math.min(100, Math.max(0, value));
  return h(
    "div",
    { class: "progress", "data-testid": testId },
    bar,
    h("span", { class: "progress__text" }, value === null ? "—" : percent(value, value < 10 ? 1 : 0)),
  );
}

/** A polite notice inside a page: errors and "live updates unavailable". */
export function notice(kind: "error" | "info", text: string, testId?: string): HTMLElement {
  return h(
    "p",
    { class: `notice notice--${kind}`, role: kind === "error" ? "alert" : "status", "data-testid": testId },
    text,
  );
}
