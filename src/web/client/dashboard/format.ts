import type {
  DeploymentStatus,
  GpuType,
  TrainingAlert,
  TrainingAlertKind,
  WebhookDelivery,
} from "./operations";

const DASH = "—";

/** US dollars: cents for amounts from $0.10, four decimals below that (a few minutes of a cheap GPU). */
export function money(usd: number | null | undefined): string {
  if (usd === null || usd === undefined || !Number.isFinite(usd)) return DASH;
  const digits = usd !== 0 && Math.abs(usd) < 0.1 ? 4 : 2;
  return `$${usd.toFixed(digits)}`;
}

/** `1 h 05 min`, `12 min 03 s`, `45 s`. */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return DASH;
  const s = Math.round(seconds);
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  if (hours > 0) return `${hours} h ${String(minutes).padStart(2, "0")} min`;
  if (minutes > 0) return `${minutes} min ${String(rest).padStart(2, "0")} s`;
  return `${rest} s`;
}

export function percent(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return DASH;
  return `${value.toFixed(digits)} %`;
}

export function gigabytes(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return DASH;
  return `${value.toFixed(1)} GB`;
}

/** A size in bytes, in binary units: `512 B`, `4.0 KiB`, `5.3 MiB`, `1.20 GiB`. */
export function byteSize(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes) || bytes < 0) return DASH;
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

/** `RTX_A4000` → `RTX A4000`. */
export function gpuName(type: GpuType): string {
  return type.replace(/_/g, " ");
}

export function statusLabel(status: DeploymentStatus): string {
  return status.charAt(0) + status.slice(1).toLowerCase();
}

/** Budget bar colour: amber from 80 % of the budget, red from 100 %. */
export type BudgetLevel = "ok" | "warning" | "exceeded";
export function budgetLevel(usedPercent: number): BudgetLevel {
  if (usedPercent >= 100) return "exceeded";
  if (usedPercent >= 80) return "warning";
  return "ok";
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function absoluteTime(iso: string | null | undefined): string {
  if (!iso) return DASH;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? DASH : dateTime.format(date);
}

/** `just now`, `5 min ago`, `3 h ago`, then the date. */
export function relativeTime(iso: string, now = Date.now()): string {
  const seconds = (now - new Date(iso).getTime()) / 1000;
  if (!Number.isFinite(seconds)) return DASH;
  if (seconds < 45) return "just now";
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.round(seconds / 3600)} h ago`;
  return absoluteTime(iso);
}

/** `85 ms`, `1.2 s`. */
export function milliseconds(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return DASH;
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

const ALERT_TITLES: Record<TrainingAlertKind, string> = {
  LOSS_NAN: "Loss is not a number",
  LOSS_SPIKE: "Loss spike",
  STALLED: "Training stalled",
  GPU_MEMORY_HIGH: "GPU memory nearly full",
  OUT_OF_MEMORY: "Out of GPU memory",
};

/** A training-health alert's headline: what, where, and what the gateway does about it. */
export function trainingAlertTitle(alert: Pick<TrainingAlert, "kind" | "step" | "action">): string {
  const step = alert.step === null ? "" : ` at step ${alert.step}`;
  const action =
    alert.action === "STOPPING" || alert.action === "STOPPED"
      ? " — stopping the run"
      : alert.action === "NOTIFIED"
        ? " — the run continues"
        : "";
  return `${ALERT_TITLES[alert.kind]}${step}${action}`;
}

/** How one delivery attempt went: `HTTP 200`, `HTTP 500`, or `No answer` when none came. */
export function deliveryOutcome(delivery: Pick<WebhookDelivery, "statusCode" | "deliveredAt">): {
  text: string;
  ok: boolean;
} {
  return {
    text: delivery.statusCode === null ? "No answer" : `HTTP ${delivery.statusCode}`,
    ok: delivery.deliveredAt !== null,
  };
}

/** What to show beside an attempt: its error when it failed, else the start of the endpoint's answer. */
export function deliveryDetail(
  delivery: Pick<WebhookDelivery, "error" | "responseExcerpt">,
  maxLength = 120,
): string {
  const text = (delivery.error ?? delivery.responseExcerpt ?? "").replace(/\s+/g, " ").trim();
  if (!text) return DASH;
  return text.length > maxLength ? `${text.slice(0, maxLength - 1)}…` : text;
}

/** `input.url` → `url`: which form control a BAD_USER_INPUT error is about. */
export function inputFieldName(path: string | undefined): string | undefined {
  if (!path) return undefined;
  const name = path.replace(/^input\./, "").split(".")[0];
  return name && name !== "input" ? name : undefined;
}
