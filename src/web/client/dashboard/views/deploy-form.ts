import type { AppContext, View } from "../context";
import { h, link, replaceChildren } from "../dom";
import { gpuName, money } from "../format";
import {
  DEPLOY_TRAINING,
  GPU_OFFERS,
  GPU_TYPES,
  TRAINING_CONFIGS,
  type CloudType,
  type DeployTrainingInput,
  type DeployTrainingResult,
  type GpuOffersResult,
  type GpuType,
  type TrainingConfigsResult,
} from "../operations";
import { paths } from "../router";
import { notice } from "../widgets";

const FALLBACKS = 2;

/** Deploys a saved training config: GPU type, ordered fallbacks, GPU count, cloud, and the dollar budget. */
export function deployFormView(context: AppContext): View {
  let idempotencyKey = newIdempotencyKey();
  const heading = h("h1", { id: "page-title", tabindex: -1 }, "New deployment");
  const status = h("div", { class: "page__status" });

  const config = h("select", {
    id: "deploy-config",
    name: "trainingConfigId",
    required: true,
    "data-testid": "deploy-config",
  });
  const gpu = gpuSelect("deploy-gpu", "gpuType", false);
  const fallbacks = Array.from({ length: FALLBACKS }, (_, index) =>
    gpuSelect(`deploy-fallback-${index + 1}`, `fallback${index + 1}`, true),
  );
  const gpuCount = h("input", {
    id: "deploy-gpu-count",
    name: "gpuCount",
    type: "number",
    min: 1,
    max: 8,
    step: 1,
    value: 1,
    required: true,
    inputmode: "numeric",
    "data-testid": "deploy-gpu-count",
  });
  const cloud = h(
    "select",
    { id: "deploy-cloud", name: "cloudType", "data-testid": "deploy-cloud" },
    h("option", { value: "SECURE" }, "Secure cloud"),
    h("option", { value: "COMMUNITY" }, "Community cloud"),
  );
  const budget = h("input", {
    id: "deploy-budget",
    name: "budgetLimitUsd",
    type: "number",
    min: 0.01,
    step: 0.01,
    value: 5,
    required: true,
    inputmode: "decimal",
    "aria-describedby": "deploy-budget-hint",
    "data-testid": "deploy-budget",
  });
  const maxPrice = h("input", {
    id: "deploy-max-price",
    name: "maxPricePerHourUsd",
    type: "number",
    min: 0.01,
    step: 0.01,
    inputmode: "decimal",
    "data-testid": "deploy-max-price",
  });
  const maxDuration = h("input", {
    id: "deploy-max-duration",
    name: "maxDurationMinutes",
    type: "number",
    min: 1,
    step: 1,
    inputmode: "numeric",
    "data-testid": "deploy-max-duration",
  });
  const submit = h(
    "button",
    { type: "submit", class: "button button--primary", "data-testid": "deploy-submit" },
    "Deploy",
  );
  const formError = h("div", { "data-testid": "deploy-error" });

  const form = h(
    "form",
    { class: "form card", "data-testid": "deploy-form", novalidate: false },
    field("Training config", config),
    h(
      "fieldset",
      { class: "form__group" },
      h("legend", {}, "GPU"),
      h(
        "div",
        { class: "form__row" },
        field("GPU type", gpu),
        ...fallbacks.map((select, index) => field(`Fallback ${index + 1} (optional)`, select)),
      ),
      h("div", { class: "form__row" }, field("GPUs", gpuCount), field("Cloud", cloud)),
    ),
    h(
      "fieldset",
      { class: "form__group" },
      h("legend", {}, "Limits"),
      h(
        "div",
        { class: "form__row" },
        field(
          "Budget (USD)",
          budget,
          "The pod is terminated when its cost reaches this amount.",
          "deploy-budget-hint",
        ),
        field("Max price per hour (USD, optional)", maxPrice),
        field("Max duration (minutes, optional)", maxDuration),
      ),
    ),
    formError,
    h(
      "div",
      { class: "form__actions" },
      submit,
      link(paths.deployments(), { class: "button button--ghost" }, "Cancel"),
    ),
  );

  const element = h(
    "section",
    { class: "page page--narrow", "aria-labelledby": "page-title" },
    link(paths.deployments(), { class: "back" }, "← Deployments"),
    h("div", { class: "page__header" }, heading),
    status,
    form,
  );

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!form.reportValidity()) return;
    const input: DeployTrainingInput = {
      trainingConfigId: config.value,
      gpuType: gpu.value as GpuType,
      fallbackGpuTypes: [
        ...new Set(fallbacks.map((select) => select.value).filter((value): value is GpuType => value !== "")),
      ].filter((value) => value !== gpu.value),
      gpuCount: gpuCount.valueAsNumber,
      cloudType: cloud.value as CloudType,
      budgetLimitUsd: budget.valueAsNumber,
      ...(Number.isFinite(maxPrice.valueAsNumber) ? { maxPricePerHourUsd: maxPrice.valueAsNumber } : {}),
      ...(Number.isFinite(maxDuration.valueAsNumber)
        ? { maxDurationMinutes: maxDuration.valueAsNumber }
        : {}),
      // The same key for a double submit: the gateway hands back the same deployment, not a second pod.
      idempotencyKey,
    };
    submit.disabled = true;
    replaceChildren(formError);
    context.client
      .request<DeployTrainingResult>(DEPLOY_TRAINING, { input })
      .then(({ deployTraining }) => context.router.navigate(paths.deployment(deployTraining.id)))
      .catch((error: unknown) => {
        idempotencyKey = newIdempotencyKey();
        const code = (error as { code?: string }).code;
        replaceChildren(
          formError,
          notice("error", `${(error as Error).message}${code ? ` (${code})` : ""}`, "deploy-error-message"),
        );
      })
      .finally(() => {
        submit.disabled = false;
      });
  });

  const loadConfigs = async () => {
    try {
      const { trainingConfigs } = await context.client.request<TrainingConfigsResult>(TRAINING_CONFIGS);
      replaceChildren(
        config,
        trainingConfigs.map((c) => h("option", { value: c.id }, `${c.name} — ${c.modelName} (${c.method})`)),
      );
      if (trainingConfigs.length === 0) {
        submit.disabled = true;
        replaceChildren(
          status,
          h(
            "p",
            { class: "notice notice--info", role: "status", "data-testid": "no-configs" },
            "You have no saved training configs yet. Create one with the createTrainingConfig mutation, e.g. in the ",
            h("a", { href: "/playground" }, "playground"),
            ".",
          ),
        );
      }
      form.dataset.state = "ready";
    } catch (error) {
      replaceChildren(
        status,
        notice("error", `Could not load your training configs: ${(error as Error).message}`),
      );
    }
  };

  // Prices and stock make the GPU list more useful, but the form works without them (e.g. no RunPod key yet).
  const loadOffers = async () => {
    try {
      const { gpuTypes } = await context.client.request<GpuOffersResult>(GPU_OFFERS, {
        cloudType: cloud.value,
      });
      const offers = new Map(gpuTypes.map((offer) => [offer.gpuType, offer]));
      for (const select of [gpu, ...fallbacks]) {
        for (const option of select.options) {
          const offer = offers.get(option.value as GpuType);
          if (!offer) continue;
          const price = offer.pricePerHourUsd == null ? "" : `, ${money(offer.pricePerHourUsd)}/h`;
          option.textContent = `${offer.displayName} (${offer.memoryGb} GB${price})${offer.available ? "" : " — no stock"}`;
        }
      }
    } catch {
      // Keep the plain names.
    }
  };
  cloud.addEventListener("change", () => void loadOffers());

  void loadConfigs();
  void loadOffers();

  return { element, title: "New deployment", focus: () => heading.focus(), dispose: () => undefined };
}

/**
 * 128 random bits as hex. Not `crypto.randomUUID()`: that exists only in secure contexts, and a gateway on a
 * LAN address over plain HTTP is not one.
 */
function newIdempotencyKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function gpuSelect(id: string, name: string, optional: boolean): HTMLSelectElement {
  return h(
    "select",
    { id, name, "data-testid": id },
    optional ? h("option", { value: "" }, "None") : null,
    GPU_TYPES.map((type) => h("option", { value: type }, gpuName(type))),
  );
}

function field(label: string, control: HTMLElement, hint?: string, hintId?: string): HTMLElement {
  return h(
    "div",
    { class: "field" },
    h("label", { for: control.id }, label),
    control,
    hint ? h("p", { class: "field__hint muted", id: hintId }, hint) : null,
  );
}
