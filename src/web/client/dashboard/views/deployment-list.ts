import type { AppContext, View } from "../context";
import { h, link, replaceChildren } from "../dom";
import { absoluteTime, duration, gpuName, money, relativeTime } from "../format";
import {
  ACTIVE_STATUSES,
  DEPLOYMENT_UPDATED,
  DEPLOYMENTS,
  type Deployment,
  type DeploymentsResult,
  type DeploymentUpdatedResult,
} from "../operations";
import { paths } from "../router";
import { budgetMeter, notice, progressMeter, statusBadge } from "../widgets";

const PAGE_SIZE = 20;

/** The caller's deployments, newest first, kept current by `deploymentUpdated`. */
export function deploymentListView(context: AppContext): View {
  const byId = new Map<string, Deployment>();
  let endCursor: string | null = null;
  let hasNextPage = false;
  let pagedFurther = false;
  let loaded = false;

  const heading = h("h1", { id: "page-title", tabindex: -1 }, "Deployments");
  const status = h("div", { class: "page__status" });
  const body = h("tbody", {});
  const table = h(
    "table",
    { class: "table", "data-testid": "deployments-table" },
    h("caption", { class: "visually-hidden" }, "Your deployments, newest first"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ...[
          "Training",
          "Status",
          "GPU",
          "Cost against budget",
          "Projected",
          "ETA",
          "Progress",
          "Created",
        ].map((label) => h("th", { scope: "col" }, label)),
      ),
    ),
    body,
  );
  const more = h(
    "button",
    { type: "button", class: "button", "data-testid": "load-more", hidden: true },
    "Load more",
  );
  const element = h(
    "section",
    { class: "page", "aria-labelledby": "page-title" },
    h(
      "div",
      { class: "page__header" },
      heading,
      link(
        paths.deploy(),
        { class: "button button--primary", "data-testid": "new-deployment" },
        "New deployment",
      ),
    ),
    status,
    h("div", { class: "table-wrap" }, table),
    more,
  );

  const render = () => {
    const rows = [...byId.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    // Rows are rebuilt on every update; a keyboard user's focus goes back to the same row's link.
    const focused =
      document.activeElement?.closest<HTMLElement>("tr[data-deployment-id]")?.dataset.deploymentId;
    replaceChildren(body, rows.map(deploymentRow));
    if (focused)
      body.querySelector<HTMLElement>(`tr[data-deployment-id="${CSS.escape(focused)}"] a`)?.focus();
    table.hidden = loaded && rows.length === 0;
    more.hidden = !hasNextPage;
    if (loaded && rows.length === 0) {
      replaceChildren(
        status,
        h(
          "div",
          { class: "empty card", "data-testid": "no-deployments" },
          h("p", {}, "No deployments yet."),
          link(paths.deploy(), { class: "button button--primary" }, "Deploy a training config"),
        ),
      );
    } else if (status.querySelector(".empty")) {
      replaceChildren(status);
    }
  };

  const load = async (after: string | null) => {
    more.disabled = true;
    try {
      const { deployments } = await context.client.request<DeploymentsResult>(DEPLOYMENTS, {
        first: PAGE_SIZE,
        after,
      });
      for (const { node } of deployments.edges) byId.set(node.id, node);
      // A refresh of the first page must not move the cursor back once "Load more" went further.
      if (after !== null || !pagedFurther) {
        hasNextPage = deployments.pageInfo.hasNextPage;
        endCursor = deployments.pageInfo.endCursor;
      }
      if (after !== null) pagedFurther = true;
      loaded = true;
      element.dataset.state = "loaded";
      render();
    } catch (error) {
      replaceChildren(
        status,
        notice("error", `Could not load deployments: ${(error as Error).message}`, "page-error"),
      );
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener("click", () => void load(endCursor));

  const stopLive = context.client.live<DeploymentUpdatedResult>(DEPLOYMENT_UPDATED, () => ({}), {
    next: ({ deploymentUpdated }) => {
      byId.set(deploymentUpdated.id, deploymentUpdated);
      render();
    },
    error: (error) =>
      replaceChildren(
        status,
        notice("info", `Live updates are unavailable: ${error.message}`, "live-unavailable"),
      ),
  });
  // Whatever changed while the socket was down: fetch the first page again.
  const stopReconnect = context.client.onReconnect(() => void load(null));
  // Relative times ("5 min ago") age without events.
  const clock = setInterval(render, 30_000);

  render();
  void load(null);

  return {
    element,
    title: "Deployments",
    focus: () => heading.focus(),
    dispose: () => {
      stopLive();
      stopReconnect();
      clearInterval(clock);
    },
  };
}

function deploymentRow(deployment: Deployment): HTMLTableRowElement {
  const active = ACTIVE_STATUSES.includes(deployment.status);
  const eta = active ? deployment.job.latestMetric?.remainingSeconds : null;
  return h(
    "tr",
    {
      "data-testid": "deployment-row",
      "data-deployment-id": deployment.id,
      "data-status": deployment.status,
    },
    h(
      "th",
      { scope: "row" },
      link(paths.deployment(deployment.id), { class: "row-link" }, deployment.trainingConfig.name),
      h("div", { class: "muted small" }, deployment.trainingConfig.modelName),
    ),
    h("td", {}, statusBadge(deployment.status)),
    h("td", { class: "nowrap" }, `${gpuName(deployment.gpuType)} × ${deployment.gpuCount}`),
    h("td", { class: "cell-budget" }, budgetMeter(deployment)),
    h("td", { class: "num" }, money(deployment.projectedCostUsd)),
    h(
      "td",
      { class: "num", "data-testid": "deployment-eta" },
      eta === null || eta === undefined ? "—" : duration(eta),
    ),
    h("td", {}, progressMeter(deployment.job.progress, "deployment-progress")),
    h(
      "td",
      { class: "nowrap" },
      h(
        "time",
        { datetime: deployment.createdAt, title: absoluteTime(deployment.createdAt) },
        relativeTime(deployment.createdAt),
      ),
    ),
  );
}
