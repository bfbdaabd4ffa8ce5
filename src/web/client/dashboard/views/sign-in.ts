import { h } from "../dom";
import { normaliseToken } from "../../shared/token-store";
import { notice } from "../widgets";

export interface SignInOptions {
  /** Why the user is here again (a refused or expired token). */
  message?: string;
  /** Checks the token with the gateway; resolves with the user id, rejects with a message to show. */
  verify(token: string): Promise<string>;
  onSignedIn(token: string, userId: string): void;
}

/** Sign in by pasting a token (`npm run token -- <user>` or your identity provider's JWT). */
export function signInView(options: SignInOptions): HTMLElement {
  const input = h("input", {
    id: "token",
    name: "token",
    type: "password",
    required: true,
    autocomplete: "off",
    spellcheck: "false",
    "aria-describedby": "token-hint",
    "data-testid": "token-input",
  });
  const submit = h(
    "button",
    { type: "submit", class: "button button--primary", "data-testid": "sign-in" },
    "Sign in",
  );
  const error = h(
    "div",
    { "data-testid": "sign-in-error" },
    options.message ? notice("error", options.message) : null,
  );
  const form = h(
    "form",
    { class: "card signin", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Sign in to TrainGate"),
    h("label", { for: "token" }, "Access token"),
    input,
    h(
      "p",
      { id: "token-hint", class: "field__hint muted" },
      "Paste a JWT for this gateway, e.g. the output of ",
      h("code", {}, "npm run token -- <your-user-id>"),
      ". It is kept in this browser until you sign out.",
    ),
    error,
    submit,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const token = normaliseToken(input.value);
    if (!token) {
      error.replaceChildren(notice("error", "That is not a JWT: expected three dot-separated parts."));
      input.focus();
      return;
    }
    submit.disabled = true;
    error.replaceChildren();
    options
      .verify(token)
      .then((userId) => options.onSignedIn(token, userId))
      .catch((failure: unknown) => {
        error.replaceChildren(notice("error", (failure as Error).message));
        input.focus();
      })
      .finally(() => {
        submit.disabled = false;
      });
  });
  queueMicrotask(() => input.focus());
  return h(
    "main",
    { id: "main", class: "signin-page" },
    h("div", { class: "brand brand--large" }, "TrainGate"),
    form,
  );
}
