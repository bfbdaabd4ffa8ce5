import { MetricChart } from "../charts";
import { MetricHistory } from "../metric-history";
import type { AppContext, View } from "../context";
import { h, link, replaceChildren } from "../dom";
import {
  absoluteTime,
  byteSize,
  duration,
  gigabytes,
  gpuName,
  money,
  percent,
  statusLabel,
  trainingAlertTitle,
} from "../format";
import {
  ACTIVE_STATUSES,
  DEPLOYMENT,
  DEPLOYMENT_UPDATED,
  JOB_ARTIFACT,
  STOP_DEPLOYMENT,
  TRAINING_ALERTS,
  TRAINING_METRICS,
  type Deployment,
  type DeploymentResult,
  type DeploymentUpdatedResult,
  type JobArtifact,
  type JobArtifactResult,
  type Metric,
  type StopDeploymentResult,
  type TrainingAlert,
  type TrainingAlertsResult,
  type TrainingMetricsResult,
} from "../operations";
import { paths } from "../router";
import { budgetMeter, notice, progressMeter, statusBadge } from "../widgets";

/**
 * One deployment: cost against budget, ETA, progress, GPU memory, live loss and learning-rate curves, where
 * the result went once the job ends (for a result stored at the gateway: its size, SHA-256, files and a
 * Download button), and Stop. The curves come from `trainingMetrics(afterStep:)`: first every
 * stored point, then live ones; after a dropped socket the stream resumes after the last step drawn.
 */
export function deploymentView(context: AppContext, id: string): View {
  let deployment: Deployment | undefined;
  const history = new MetricHistory();
  const disposers: (() => void)[] = [];
  let frame: number | undefined;

  const lossChart = new MetricChart({
    testId: "loss-chart",
    title: "Loss",
    series: [
      { label: "loss", color: "#2563eb", value: (point) => point.loss },
      { label: "eval loss", color: "#d97706", value: (point) => point.evalLoss, sparse: true },
    ],
  });
  const learningRateChart = new MetricChart({
    testId: "lr-chart",
    title: "Learning rate",
    series: [{ label: "learning rate", color: "#059669", value: (point) => point.learningRate }],
    formatValue: (value) => (value === 0 ? "0" : value.toExponential(1)),
  });

  const heading = h("h1", { id: "page-title", tabindex: -1 }, "Deployment");
  const badge = h("span", { class: "page__badge" });
  const subtitle = h("p", { class: "page__subtitle muted" });
  const stopButton = h(
    "button",
    { type: "button", class: "button button--danger", "data-testid": "stop-button", hidden: true },
    "Stop",
  );
  const actions = h("div", { class: "page__actions" }, stopButton);
  const notices = h("div", { class: "page__status" });
  const health = healthAlerts();
  const stats = h("dl", { class: "stats" });
  const outcome = h("div", {});
  const content = h(
    "div",
    { class: "deployment", hidden: true },
    health.element,
    stats,
    outcome,
    h("div", { class: "charts" }, lossChart.element, learningRateChart.element),
  );
  const element = h(
    "section",
    {
      class: "page",
      "aria-labelledby": "page-title",
      "data-testid": "deployment-page",
      "data-deployment-id": id,
    },
    link(paths.deployments(), { class: "back" }, "← Deployments"),
    h("div", { class: "page__header" }, h("div", { class: "page__heading" }, heading, badge), actions),
    subtitle,
    notices,
    content,
  );

  const stopDialog = createStopDialog(async () => {
    const { stopDeployment } = await context.client.request<StopDeploymentResult>(STOP_DEPLOYMENT, { id });
    update(stopDeployment);
  });
  element.append(stopDialog.element);
  stopButton.addEventListener("click", () => {
    if (deployment) stopDialog.open(deployment.trainingConfig.name);
  });

  // The result stored at the gateway, asked for once per artifact URI: the deployment (and its live updates)
  // carry only the URI, so the list page never signs links nor reads artifact rows it does not show.
  let artifactFor: string | null = null;
  let artifactCard: HTMLElement | null = null;
  const loadArtifact = async (jobId: string, uri: string) => {
    artifactFor = uri;
    try {
      const { trainingJob } = await context.client.request<JobArtifactResult>(JOB_ARTIFACT, { id: jobId });
      if (artifactFor !== uri) return;
      const found = trainingJob?.artifact;
      artifactCard = found ? artifactView(context, jobId, found) : null;
    } catch (error) {
      if (artifactFor !== uri) return;
      artifactCard = null;
      replaceChildren(
        notices,
        notice("error", `Could not load the stored result: ${(error as Error).message}`, "artifact-error"),
      );
    }
    renderDeployment();
  };

  /** The newest point we know of: the live stream's, or the one the deployment came with. */
  const latestMetric = (): Metric | null => {
    const live = history.latest;
    const stored = deployment?.job.latestMetric ?? null;
    if (!live) return stored;
    return stored && stored.step > live.step ? stored : live;
  };

  const renderDeployment = () => {
    if (!deployment) return;
    const d = deployment;
    const active = ACTIVE_STATUSES.includes(d.status);
    const metric = latestMetric();
    heading.textContent = d.trainingConfig.name;
    replaceChildren(badge, statusBadge(d.status));
    subtitle.textContent = [
      d.trainingConfig.modelName,
      `${d.trainingConfig.method}`,
      `${gpuName(d.gpuType)} × ${d.gpuCount}`,
      d.cloudType === "SECURE" ? "Secure cloud" : "Community cloud",
      `created ${absoluteTime(d.createdAt)}`,
    ].join(" · ");

    // The same button throughout (hidden when there is nothing to stop), so keyboard focus survives the
    // re-render every metric point causes.
    stopButton.hidden = !active;

    const progress = metric?.progress ?? d.job.progress;
    const eta = active ? (metric?.remainingSeconds ?? null) : null;
    replaceChildren(
      stats,
      stat("Cost against budget", "cost", budgetMeter(d)),
      stat("Projected cost", "projected-cost", money(d.projectedCostUsd)),
      stat("ETA", "eta", eta === null ? "—" : duration(eta)),
      stat("Progress", "progress", progressMeter(progress ?? null, "progress-meter")),
      stat(
        "GPU memory",
        "gpu-memory",
        metric?.gpuMemoryAllocatedGb == null && metric?.gpuMemoryReservedGb == null
          ? "—"
          : `${gigabytes(metric.gpuMemoryAllocatedGb)} allocated · ${gigabytes(metric.gpuMemoryReservedGb)} reserved`,
      ),
      stat("GPU utilisation", "gpu-utilisation", percent(metric?.gpuUtilizationPercent)),
      stat(
        "Step",
        "step",
        metric ? `${metric.step}${metric.epoch == null ? "" : ` (epoch ${metric.epoch.toFixed(2)})`}` : "—",
      ),
      stat("Price", "price", d.costPerHourUsd == null ? "—" : `${money(d.costPerHourUsd)} / h`),
      stat("Uptime", "uptime", duration(d.uptimeSeconds)),
    );

    const error = d.errorMessage ?? d.job.errorMessage;
    const uri = d.job.artifactUri;
    if (uri?.startsWith("gateway://") && artifactFor !== uri) void loadArtifact(d.job.id, uri);
    if (!uri) {
      artifactFor = null;
      artifactCard = null;
    }
    replaceChildren(
      outcome,
      artifactCard && uri
        ? artifactCard
        : uri
          ? h(
              "div",
              { class: "card outcome" },
              h("h2", {}, "Trained adapter"),
              h("code", { class: "artifact", "data-testid": "artifact-uri" }, uri),
            )
          : null,
      error ? notice("error", error, "deployment-error") : null,
      !active && d.stopReason
        ? h(
            "p",
            { class: "muted", "data-testid": "stop-reason" },
            `${statusLabel(d.status)}: ${reason(d.stopReason)}`,
          )
        : null,
    );
    content.hidden = false;
    element.dataset.status = d.status;
  };

  const update = (next: Deployment) => {
    deployment = next;
    renderDeployment();
  };

  const flush = () => {
    frame = undefined;
    lossChart.draw(history);
    learningRateChart.draw(history);
    renderDeployment();
  };
  const scheduleFlush = () => {
    frame ??= requestAnimationFrame(flush);
  };

  const load = async () => {
    try {
      const { deployment: found } = await context.client.request<DeploymentResult>(DEPLOYMENT, { id });
      if (!found) {
        heading.textContent = "Deployment not found";
        replaceChildren(
          notices,
          notice("error", "There is no deployment with this id among yours.", "page-error"),
        );
        return;
      }
      const first = deployment === undefined;
      update(found);
      if (first) startStreams(found.job.id);
    } catch (error) {
      replaceChildren(
        notices,
        notice("error", `Could not load the deployment: ${(error as Error).message}`, "page-error"),
      );
    }
  };

  const streamNotices = new Map<string, HTMLElement>();
  const streamUnavailable = (name: string, message: string) => {
    if (streamNotices.has(name)) return;
    const text = notice("info", `Live ${name} are unavailable: ${message}`, "live-unavailable");
    streamNotices.set(name, text);
    notices.append(text);
  };

  const startStreams = (jobId: string) => {
    disposers.push(
      context.client.live<DeploymentUpdatedResult>(DEPLOYMENT_UPDATED, () => ({ id }), {
        next: ({ deploymentUpdated }) => update(deploymentUpdated),
        error: (error) => streamUnavailable("status updates", error.message),
      }),
      context.client.live<TrainingMetricsResult>(
        TRAINING_METRICS,
        // -1 (nothing drawn yet): every stored point, then live ones. Later: only what follows the last step.
        () => ({ jobId, afterStep: history.lastStep }),
        {
          next: ({ trainingMetrics }) => {
            history.upsert(trainingMetrics);
            scheduleFlush();
          },
          error: (error) => streamUnavailable("metrics", error.message),
        },
      ),
      // Live only: the schema has no query for the alerts raised before the page opened.
      context.client.live<TrainingAlertsResult>(TRAINING_ALERTS, () => ({ deploymentId: id }), {
        next: ({ trainingAlerts }) => health.add(trainingAlerts),
        error: (error) => streamUnavailable("health alerts", error.message),
      }),
      context.client.onReconnect(() => void load()),
    );
  };

  void load();

  return {
    element,
    title: "Deployment",
    focus: () => heading.focus(),
    dispose: () => {
      for (const dispose of disposers) dispose();
      if (frame !== undefined) cancelAnimationFrame(frame);
      lossChart.dispose();
      learningRateChart.dispose();
      stopDialog.element.close();
    },
  };
}

/**
 * A result stored at the gateway: its URI, size, SHA-256 and files, and Download. Each click asks for a fresh
 * signed link (they expire within minutes) and downloads it from this origin.
 */
function artifactView(context: AppContext, jobId: string, artifact: JobArtifact): HTMLElement {
  const failure = h("p", { class: "notice notice--error", role: "alert", hidden: true });
  const download = h(
    "button",
    { type: "button", class: "button button--primary", "data-testid": "artifact-download" },
    "Download",
  );
  download.addEventListener("click", () => {
    download.disabled = true;
    failure.hidden = true;
    context.client
      .request<JobArtifactResult>(JOB_ARTIFACT, { id: jobId })
      .then(({ trainingJob }) => {
        const fresh = trainingJob?.artifact;
        if (!fresh) throw new Error("the result is no longer stored");
        const url = new URL(fresh.downloadUrl, window.location.href);
        const anchor = h("a", {
          href: `${url.pathname}${url.search}`,
          download: `${jobId}.tar`,
          hidden: true,
        });
        document.body.append(anchor);
        anchor.click();
        anchor.remove();
      })
      .catch((error: unknown) => {
        failure.textContent = `Could not download it: ${(error as Error).message}`;
        failure.hidden = false;
      })
      .finally(() => {
        download.disabled = false;
      });
  });
  return h(
    "div",
    { class: "card outcome", "data-testid": "artifact" },
    h("div", { class: "outcome__header" }, h("h2", {}, "Trained adapter"), download),
    h("code", { class: "artifact", "data-testid": "artifact-uri" }, artifact.uri),
    h(
      "dl",
      { class: "artifact__facts" },
      h("dt", {}, "Size"),
      h("dd", { "data-testid": "artifact-size" }, byteSize(artifact.sizeBytes)),
      h("dt", {}, "SHA-256"),
      h("dd", {}, h("code", { "data-testid": "artifact-sha256" }, artifact.sha256)),
      h("dt", {}, "Stored"),
      h("dd", {}, absoluteTime(artifact.createdAt)),
    ),
    h(
      "ul",
      { class: "artifact__files", "data-testid": "artifact-files" },
      artifact.files.map((file) =>
        h("li", {}, h("code", {}, file.name), " ", h("span", { class: "muted" }, byteSize(file.sizeBytes))),
      ),
    ),
    failure,
  );
}

/**
 * The run's training-health alerts, newest first. Each kind is raised at most once per deployment, so a
 * kind seen again (a resubscription's replay) replaces the one shown.
 */
function healthAlerts(): { element: HTMLElement; add(alert: TrainingAlert): void } {
  let alerts: TrainingAlert[] = [];
  const list = h("ul", { class: "alerts__list" });
  const element = h(
    "section",
    {
      class: "health",
      "aria-live": "polite",
      "aria-label": "Health alerts",
      "data-testid": "health-alerts",
      hidden: true,
    },
    list,
  );
  return {
    element,
    add(alert) {
      alerts = [alert, ...alerts.filter((other) => other.kind !== alert.kind)];
      element.hidden = false;
      replaceChildren(
        list,
        alerts.map((shown) =>
          h(
            "li",
            {
              class: `alert alert--${shown.action === "NOTIFIED" ? "warning" : "exceeded"}`,
              "data-testid": "health-alert",
              "data-kind": shown.kind,
            },
            h("strong", {}, trainingAlertTitle(shown)),
            h("div", {}, shown.message, h("span", { class: "muted" }, ` · ${absoluteTime(shown.at)}`)),
          ),
        ),
      );
    },
  };
}

function stat(label: string, testId: string, value: Node | string): HTMLElement {
  return h("div", { class: "stat card" }, h("dt", {}, label), h("dd", { "data-testid": testId }, value));
}

function reason(stopReason: NonNullable<Deployment["stopReason"]>): string {
  switch (stopReason) {
    case "USER":
      return "stopped by you";
    case "BUDGET_EXCEEDED":
      return "the budget was reached";
    case "MAX_DURATION":
      return "the maximum duration was reached";
    case "COMPLETED":
      return "training completed";
    case "FAILED":
      return "training failed";
    case "ORPHANED":
      return "the pod disappeared upstream";
  }
}

/** "Stop this deployment?" as a modal dialog: Cancel has the focus, Escape closes it. */
function createStopDialog(stop: () => Promise<void>): {
  element: HTMLDialogElement;
  open(name: string): void;
} {
  const title = h("h2", { id: "stop-title" }, "Stop this deployment?");
  const text = h("p", { id: "stop-text" });
  const error = h("p", { class: "notice notice--error", role: "alert", hidden: true });
  const cancel = h(
    "button",
    { type: "button", class: "button", "data-testid": "stop-cancel", autofocus: true },
    "Cancel",
  );
  const confirm = h(
    "button",
    { type: "button", class: "button button--danger", "data-testid": "stop-confirm" },
    "Stop deployment",
  );
  const element = h(
    "dialog",
    {
      class: "dialog",
      "aria-labelledby": "stop-title",
      "aria-describedby": "stop-text",
      "data-testid": "stop-dialog",
    },
    title,
    text,
    error,
    h("div", { class: "dialog__actions" }, cancel, confirm),
  );
  cancel.addEventListener("click", () => element.close());
  confirm.addEventListener("click", () => {
    confirm.disabled = true;
    cancel.disabled = true;
    error.hidden = true;
    stop()
      .then(() => element.close())
      .catch((failure: unknown) => {
        error.textContent = `Could not stop it: ${(failure as Error).message}`;
        error.hidden = false;
      })
      .finally(() => {
        confirm.disabled = false;
        cancel.disabled = false;
      });
  });
  return {
    element,
    open(name) {
      text.textContent = `The pod training “${name}” will be terminated and its billing stops. This cannot be undone.`;
      error.hidden = true;
      element.showModal();
    },
  };
}
