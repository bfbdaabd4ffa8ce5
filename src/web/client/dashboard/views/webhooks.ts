import type { AppContext, View } from "../context";
import { h, replaceChildren } from "../dom";
import {
  absoluteTime,
  deliveryDetail,
  deliveryOutcome,
  inputFieldName,
  milliseconds,
  relativeTime,
} from "../format";
import { GatewayError } from "../gateway";
import {
  CREATE_WEBHOOK,
  DELETE_WEBHOOK,
  TEST_WEBHOOK,
  WEBHOOK_DELIVERIES,
  WEBHOOK_EVENTS,
  WEBHOOK_FORMATS,
  WEBHOOKS,
  type CreateWebhookResult,
  type DeleteWebhookResult,
  type TestWebhookResult,
  type Webhook,
  type WebhookDeliveriesResult,
  type WebhookDelivery,
  type WebhookInput,
  type WebhooksResult,
} from "../operations";
import { notice } from "../widgets";

const LOG_PAGE_SIZE = 10;

/**
 * The caller's webhooks: create one (its signing secret is shown once, here, and kept nowhere else), send a
 * test event, read the delivery log a page at a time, delete.
 */
export function webhooksView(context: AppContext): View {
  const heading = h("h1", { id: "page-title", tabindex: -1 }, "Webhooks");
  const status = h("div", { class: "page__status" });
  const secret = h("div", { "data-testid": "webhook-secret-slot" });
  const list = h("ul", { class: "webhooks", "data-testid": "webhook-list" });
  const empty = h(
    "p",
    { class: "empty muted", "data-testid": "no-webhooks", hidden: true },
    "No webhooks yet. Create one above to be told when a run starts, ends, or needs attention.",
  );
  const cards = new Map<string, HTMLElement>();

  const render = (webhooks: Webhook[]) => {
    const ids = new Set(webhooks.map((webhook) => webhook.id));
    for (const [id, card] of cards) {
      if (ids.has(id)) continue;
      card.remove();
      cards.delete(id);
    }
    for (const webhook of webhooks) {
      if (cards.has(webhook.id)) continue;
      const card = webhookCard(context, webhook, () => {
        cards.delete(webhook.id);
        card.remove();
        empty.hidden = cards.size > 0;
      });
      cards.set(webhook.id, card);
      list.append(card);
    }
    empty.hidden = cards.size > 0;
  };

  const load = async () => {
    try {
      const { webhooks } = await context.client.request<WebhooksResult>(WEBHOOKS);
      render(webhooks);
      element.dataset.state = "loaded";
    } catch (error) {
      replaceChildren(
        status,
        notice("error", `Could not load your webhooks: ${(error as Error).message}`, "page-error"),
      );
    }
  };

  const form = createForm(context, (created) => {
    const card = secretCard(created.createWebhook.signingSecret, () => {
      replaceChildren(secret);
      heading.focus();
    });
    replaceChildren(secret, card);
    card.focus();
    void load();
  });

  const element = h(
    "section",
    { class: "page", "aria-labelledby": "page-title", "data-testid": "webhooks-page" },
    h("div", { class: "page__header" }, h("div", { class: "page__heading" }, heading)),
    h(
      "p",
      { class: "page__subtitle muted" },
      "The gateway POSTs signed events to these endpoints (X-TrainGate-Signature, HMAC-SHA256).",
    ),
    status,
    secret,
    form,
    h("h2", { class: "section-title" }, "Your webhooks"),
    empty,
    list,
  );

  void load();

  return {
    element,
    title: "Webhooks",
    focus: () => heading.focus(),
    // Drop the secret with the page: it exists only in this DOM, never in storage.
    dispose: () => replaceChildren(secret),
  };
}

/** The create form; a BAD_USER_INPUT error is shown under the control its `extensions.field` names. */
function createForm(context: AppContext, onCreated: (result: CreateWebhookResult) => void): HTMLFormElement {
  const url = h("input", {
    id: "webhook-url",
    name: "url",
    type: "url",
    required: true,
    placeholder: "https://example.com/hooks/traingate",
    autocomplete: "off",
    "data-testid": "webhook-url",
  });
  const eventBoxes = WEBHOOK_EVENTS.map((event) =>
    h("input", { type: "checkbox", name: "events", value: event, id: `webhook-event-${event}` }),
  );
  const format = h(
    "select",
    { id: "webhook-format", name: "format", "data-testid": "webhook-format" },
    WEBHOOK_FORMATS.map((value) => h("option", { value }, value === "JSON" ? "JSON envelope" : value)),
  );
  const description = h("input", {
    id: "webhook-description",
    name: "description",
    type: "text",
    maxlength: 500,
    "data-testid": "webhook-description",
  });
  const errors = {
    url: fieldError("webhook-url-error"),
    events: fieldError("webhook-events-error"),
    format: fieldError("webhook-format-error"),
    description: fieldError("webhook-description-error"),
  };
  const controls: Record<keyof typeof errors, HTMLElement> = {
    url,
    events: eventBoxes[0]!,
    format,
    description,
  };
  const formError = h("div", { "data-testid": "webhook-form-error" });
  const submit = h(
    "button",
    { type: "submit", class: "button button--primary", "data-testid": "webhook-create" },
    "Create webhook",
  );
  const events = h(
    "fieldset",
    { class: "form__group", "aria-describedby": errors.events.id },
    h("legend", {}, "Events"),
    h(
      "div",
      { class: "checkboxes" },
      eventBoxes.map((box) =>
        h("label", { class: "checkbox", for: box.id }, box, box.value.replace(/_/g, " ").toLowerCase()),
      ),
    ),
    errors.events,
  );
  const form = h(
    "form",
    { class: "form card", "data-testid": "webhook-form", "aria-labelledby": "webhook-form-title" },
    h("h2", { id: "webhook-form-title" }, "New webhook"),
    labelled("Endpoint URL", url, errors.url),
    events,
    h(
      "div",
      { class: "form__row" },
      labelled("Format", format, errors.format),
      labelled("Description (optional)", description, errors.description),
    ),
    formError,
    h("div", { class: "form__actions" }, submit),
  );

  const clearErrors = () => {
    replaceChildren(formError);
    for (const [name, error] of Object.entries(errors)) {
      error.hidden = true;
      controls[name as keyof typeof errors].removeAttribute("aria-invalid");
    }
  };
  const showError = (failure: unknown) => {
    const name = failure instanceof GatewayError ? inputFieldName(failure.field) : undefined;
    const slot = name && name in errors ? (name as keyof typeof errors) : undefined;
    if (!slot) {
      replaceChildren(formError, notice("error", `Could not create it: ${(failure as Error).message}`));
      return;
    }
    errors[slot].textContent = (failure as Error).message;
    errors[slot].hidden = false;
    controls[slot].setAttribute("aria-invalid", "true");
    controls[slot].focus();
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors();
    const input: WebhookInput = {
      url: url.value.trim(),
      events: eventBoxes.filter((box) => box.checked).map((box) => box.value as WebhookInput["events"][0]),
      format: format.value as WebhookInput["format"],
    };
    if (description.value.trim()) input.description = description.value.trim();
    submit.disabled = true;
    context.client
      .request<CreateWebhookResult>(CREATE_WEBHOOK, { input })
      .then((result) => {
        form.reset();
        onCreated(result);
      })
      .catch(showError)
      .finally(() => {
        submit.disabled = false;
      });
  });
  return form;
}

/** The signing secret, once: the gateway never shows it again, and the dashboard never stores it. */
function secretCard(signingSecret: string, dismiss: () => void): HTMLElement {
  const value = h("code", { class: "secret__value", "data-testid": "webhook-secret" }, signingSecret);
  const copied = h("span", { class: "muted", role: "status" });
  const copy = h("button", { type: "button", class: "button" }, "Copy");
  copy.addEventListener("click", () => {
    // The Clipboard API exists only in secure contexts: elsewhere, select the text for Ctrl+C.
    const fallback = () => {
      window.getSelection()?.selectAllChildren(value);
      copied.textContent = "Selected: press Ctrl+C (⌘C) to copy.";
    };
    if (!navigator.clipboard) return fallback();
    navigator.clipboard.writeText(signingSecret).then(() => {
      copied.textContent = "Copied.";
    }, fallback);
  });
  const done = h("button", { type: "button", class: "button button--ghost" }, "I have stored it");
  done.addEventListener("click", dismiss);
  return h(
    "div",
    { class: "card secret", role: "alert", tabindex: -1, "data-testid": "webhook-secret-card" },
    h("h2", {}, "Signing secret"),
    h(
      "p",
      {},
      h("strong", {}, "Store it now: it is shown only this once. "),
      "Your endpoint checks each request's X-TrainGate-Signature against it.",
    ),
    value,
    h("div", { class: "form__actions" }, copy, done, copied),
  );
}

/** One webhook: what it sends where, Send test, the delivery log (paged with "Older"), Delete. */
function webhookCard(context: AppContext, webhook: Webhook, onDeleted: () => void): HTMLElement {
  const lastDelivery = h("dd", { "data-testid": "webhook-last-delivery" });
  const showLastDelivery = (at: string | null) => {
    replaceChildren(
      lastDelivery,
      at ? h("time", { datetime: at, title: absoluteTime(at) }, relativeTime(at)) : "never",
    );
  };
  showLastDelivery(webhook.lastDeliveryAt);

  const testResult = h("p", {
    class: "webhook__result",
    role: "status",
    "data-testid": "webhook-test-result",
  });
  const sendTest = h(
    "button",
    { type: "button", class: "button", "data-testid": "webhook-test" },
    "Send test",
  );
  const log = deliveryLog(context, webhook.id);
  const toggleLog = h(
    "button",
    { type: "button", class: "button", "aria-expanded": "false", "data-testid": "webhook-log-toggle" },
    "Delivery log",
  );
  const openLog = () => {
    toggleLog.setAttribute("aria-expanded", "true");
    log.element.hidden = false;
    void log.reload();
  };
  toggleLog.addEventListener("click", () => {
    if (log.element.hidden) return openLog();
    toggleLog.setAttribute("aria-expanded", "false");
    log.element.hidden = true;
  });

  sendTest.addEventListener("click", () => {
    sendTest.disabled = true;
    testResult.textContent = "Sending…";
    context.client
      .request<TestWebhookResult>(TEST_WEBHOOK, { id: webhook.id })
      .then(({ testWebhook: delivery }) => {
        const outcome = deliveryOutcome(delivery);
        testResult.dataset.ok = String(outcome.ok);
        testResult.textContent = [
          outcome.ok ? "Delivered" : "Failed",
          outcome.text,
          milliseconds(delivery.latencyMs),
          outcome.ok ? null : deliveryDetail(delivery),
        ]
          .filter(Boolean)
          .join(" · ");
        if (delivery.deliveredAt) showLastDelivery(delivery.deliveredAt);
        openLog();
      })
      .catch((error: unknown) => {
        testResult.dataset.ok = "false";
        testResult.textContent = `Could not send it: ${(error as Error).message}`;
      })
      .finally(() => {
        sendTest.disabled = false;
      });
  });

  const remove = deleteControl(context, webhook, onDeleted);
  return h(
    "li",
    { class: "card webhook", "data-testid": "webhook", "data-webhook-id": webhook.id },
    h(
      "div",
      { class: "webhook__header" },
      h("code", { class: "webhook__url", "data-testid": "webhook-url-text" }, webhook.url),
      h(
        "span",
        {
          class: `badge ${webhook.enabled ? "badge--running" : "badge--failed"}`,
          "data-testid": "webhook-enabled",
        },
        webhook.enabled ? "Enabled" : "Disabled",
      ),
    ),
    webhook.description ? h("p", { class: "muted" }, webhook.description) : null,
    h(
      "dl",
      { class: "webhook__facts" },
      h("dt", {}, "Events"),
      h("dd", {}, webhook.events.map((event) => event.toLowerCase().replace(/_/g, " ")).join(", ")),
      h("dt", {}, "Format"),
      h("dd", {}, webhook.format),
      h("dt", {}, "Last delivery"),
      lastDelivery,
    ),
    h("div", { class: "form__actions" }, sendTest, toggleLog, remove),
    testResult,
    log.element,
  );
}

/** Delete, confirmed in place: the button becomes "Delete this webhook? Cancel / Delete". */
function deleteControl(context: AppContext, webhook: Webhook, onDeleted: () => void): HTMLElement {
  const start = h(
    "button",
    { type: "button", class: "button button--ghost", "data-testid": "webhook-delete" },
    "Delete",
  );
  const cancel = h("button", { type: "button", class: "button" }, "Cancel");
  const confirm = h(
    "button",
    { type: "button", class: "button button--danger", "data-testid": "webhook-delete-confirm" },
    "Delete webhook",
  );
  const question = h(
    "span",
    { class: "confirm", hidden: true, role: "group", "aria-label": "Confirm deletion" },
    "Delete it with its delivery log? ",
    cancel,
    confirm,
  );
  const failure = h("span", { class: "notice notice--error", role: "alert", hidden: true });
  start.addEventListener("click", () => {
    start.hidden = true;
    question.hidden = false;
    cancel.focus();
  });
  cancel.addEventListener("click", () => {
    question.hidden = true;
    start.hidden = false;
    start.focus();
  });
  confirm.addEventListener("click", () => {
    confirm.disabled = true;
    failure.hidden = true;
    context.client
      .request<DeleteWebhookResult>(DELETE_WEBHOOK, { id: webhook.id })
      .then(onDeleted)
      .catch((error: unknown) => {
        failure.textContent = `Could not delete it: ${(error as Error).message}`;
        failure.hidden = false;
      })
      .finally(() => {
        confirm.disabled = false;
      });
  });
  return h("span", {}, start, question, failure);
}

/** A webhook's attempts, newest first, LOG_PAGE_SIZE at a time; "Older" appends the next page. */
function deliveryLog(
  context: AppContext,
  webhookId: string,
): { element: HTMLElement; reload(): Promise<void> } {
  const body = h("tbody", {});
  const status = h("div", {});
  const older = h(
    "button",
    { type: "button", class: "button", hidden: true, "data-testid": "webhook-log-older" },
    "Older",
  );
  let endCursor: string | null = null;

  const load = async (after: string | null) => {
    older.disabled = true;
    try {
      const { webhookDeliveries } = await context.client.request<WebhookDeliveriesResult>(
        WEBHOOK_DELIVERIES,
        {
          webhookId,
          first: LOG_PAGE_SIZE,
          after,
        },
      );
      const rows = webhookDeliveries.edges.map(({ node }) => deliveryRow(node));
      if (after === null) replaceChildren(body, rows);
      else body.append(...rows);
      if (after === null && rows.length === 0) {
        replaceChildren(body, h("tr", {}, h("td", { colspan: 7, class: "empty muted" }, "No attempts yet.")));
      }
      endCursor = webhookDeliveries.pageInfo.endCursor;
      older.hidden = !webhookDeliveries.pageInfo.hasNextPage;
      replaceChildren(status);
    } catch (error) {
      replaceChildren(
        status,
        notice("error", `Could not load the delivery log: ${(error as Error).message}`),
      );
    } finally {
      older.disabled = false;
    }
  };
  older.addEventListener("click", () => void load(endCursor));

  const element = h(
    "div",
    { class: "webhook__log", hidden: true, "data-testid": "webhook-log" },
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "table" },
        h("caption", { class: "visually-hidden" }, "Delivery attempts, newest first"),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["When", "Event", "Attempt", "Status", "Latency", "Next retry", "Error / answer"].map((title) =>
              h("th", { scope: "col" }, title),
            ),
          ),
        ),
        body,
      ),
    ),
    status,
    older,
  );
  return { element, reload: () => load(null) };
}

function deliveryRow(delivery: WebhookDelivery): HTMLTableRowElement {
  const outcome = deliveryOutcome(delivery);
  return h(
    "tr",
    {
      "data-testid": "webhook-delivery",
      "data-event": delivery.event,
      "data-ok": String(outcome.ok),
    },
    h("td", { class: "nowrap" }, absoluteTime(delivery.createdAt)),
    h("td", {}, delivery.event.toLowerCase().replace(/_/g, " ")),
    h("td", { class: "num" }, delivery.attempt),
    h(
      "td",
      { "data-testid": "webhook-delivery-status" },
      h("span", { class: `badge ${outcome.ok ? "badge--completed" : "badge--failed"}` }, outcome.text),
    ),
    h("td", { class: "num" }, milliseconds(delivery.latencyMs)),
    h("td", { class: "nowrap" }, delivery.nextAttemptAt ? absoluteTime(delivery.nextAttemptAt) : "—"),
    h("td", { class: "webhook__detail" }, deliveryDetail(delivery)),
  );
}

function fieldError(id: string): HTMLElement {
  return h("p", { class: "field__error", id, role: "alert", hidden: true, "data-testid": id });
}

function labelled(label: string, control: HTMLElement, error: HTMLElement): HTMLElement {
  control.setAttribute("aria-describedby", error.id);
  return h("div", { class: "field" }, h("label", { for: control.id }, label), control, error);
}
