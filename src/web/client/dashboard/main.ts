import "./style.css";
import { readToken, writeToken } from "../shared/token-store";
import type { AppContext, View } from "./context";
import { h, link, replaceChildren } from "./dom";
import { GatewayClient, GatewayError, type ConnectionState } from "./gateway";
import { ME, type MeResult } from "./operations";
import { paths, Router, type Route } from "./router";
import { AlertsPanel } from "./views/alerts";
import { deployFormView } from "./views/deploy-form";
import { deploymentListView } from "./views/deployment-list";
import { deploymentView } from "./views/deployment-page";
import { signInView } from "./views/sign-in";
import { webhooksView } from "./views/webhooks";

const app = document.getElementById("app");
if (!app) throw new Error("the page has no #app element");
const root: HTMLElement = app;

interface Session {
  context: AppContext;
  main: HTMLElement;
  nav: HTMLAnchorElement[];
  view?: View;
}

let session: Session | undefined;

/** Asks the gateway who the token belongs to; rejects with a message fit for the sign-in form. */
async function verify(token: string): Promise<string> {
  const client = new GatewayClient({ token, onUnauthenticated: () => undefined });
  try {
    return (await client.request<MeResult>(ME)).me.id;
  } catch (error) {
    if (error instanceof GatewayError && error.code === "UNAUTHENTICATED") {
      throw new Error(`The gateway refused this token: ${error.message}`, { cause: error });
    }
    throw error;
  } finally {
    client.dispose();
  }
}

function showSignIn(message?: string): void {
  endSession();
  document.title = "Sign in · TrainGate";
  replaceChildren(root, signInView({ message, verify, onSignedIn: startSession }));
}

function endSession(): void {
  if (!session) return;
  session.view?.dispose();
  session.context.alerts.dispose();
  session.context.router.dispose();
  session.context.client.dispose();
  session = undefined;
}

function signOut(message?: string): void {
  writeToken(null);
  showSignIn(message);
}

function startSession(token: string, userId: string): void {
  endSession();
  writeToken(token);

  const live = h("span", {
    class: "live",
    "data-testid": "live-status",
    "data-state": "idle",
    role: "status",
  });
  const setLive = (state: ConnectionState) => {
    live.dataset.state = state;
    live.textContent = state === "live" ? "Live" : state === "connecting" ? "Connecting…" : "Reconnecting…";
  };
  let refused = false;
  const client = new GatewayClient({
    token,
    onConnectionChange: setLive,
    onUnauthenticated: () => {
      if (refused) return;
      refused = true;
      // Leave the current call stack (a socket callback) before tearing the session down.
      setTimeout(() => signOut("The gateway refused your token (expired?). Paste a new one."), 0);
    },
  });
  const alerts = new AlertsPanel();
  const main = h("main", { id: "main", tabindex: -1 });
  const router = new Router((route) => show(route, true));
  const context: AppContext = { client, router, alerts };

  const nav = [
    link(paths.deployments(), { "data-page": "deployments" }, "Deployments"),
    link(paths.deploy(), { "data-page": "deploy" }, "New deployment"),
    link(paths.webhooks(), { "data-page": "webhooks" }, "Webhooks"),
  ];
  const signOutButton = h(
    "button",
    { type: "button", class: "button button--ghost", "data-testid": "sign-out" },
    "Sign out",
  );
  signOutButton.addEventListener("click", () => signOut());

  replaceChildren(
    root,
    h("a", { class: "skip-link", href: "#main" }, "Skip to content"),
    h(
      "header",
      { class: "topbar" },
      link(paths.deployments(), { class: "brand" }, "TrainGate"),
      h("nav", { "aria-label": "Main" }, nav, h("a", { href: "/playground" }, "Playground")),
      h(
        "div",
        { class: "topbar__end" },
        live,
        h("span", { class: "user", "data-testid": "user-id", title: "Signed in as" }, userId),
        signOutButton,
      ),
    ),
    alerts.element,
    main,
  );
  session = { context, main, nav };
  alerts.start(client);
  show(router.current(), false);
}

function show(route: Route, navigated: boolean): void {
  if (!session) return;
  session.view?.dispose();
  const view = createView(session.context, route);
  session.view = view;
  replaceChildren(session.main, view.element);
  document.title = `${view.title} · TrainGate`;
  for (const anchor of session.nav) {
    if (anchor.dataset.page === route.page) anchor.setAttribute("aria-current", "page");
    else anchor.removeAttribute("aria-current");
  }
  if (navigated) {
    window.scrollTo(0, 0);
    view.focus?.();
  }
}

function createView(context: AppContext, route: Route): View {
  switch (route.page) {
    case "deployments":
      return deploymentListView(context);
    case "deploy":
      return deployFormView(context);
    case "deployment":
      return deploymentView(context, route.id);
    case "webhooks":
      return webhooksView(context);
    case "not-found": {
      const heading = h("h1", { tabindex: -1 }, "Page not found");
      return {
        element: h(
          "section",
          { class: "page" },
          heading,
          link(paths.deployments(), {}, "Back to your deployments"),
        ),
        title: "Not found",
        focus: () => heading.focus(),
        dispose: () => undefined,
      };
    }
  }
}

async function boot(): Promise<void> {
  const token = readToken();
  if (!token) return showSignIn();
  replaceChildren(root, h("p", { class: "loading muted", role: "status" }, "Signing in…"));
  try {
    startSession(token, await verify(token));
  } catch (error) {
    if (error instanceof GatewayError && error.code === "NETWORK_ERROR") {
      const retry = h("button", { type: "button", class: "button" }, "Try again");
      retry.addEventListener("click", () => void boot());
      replaceChildren(
        root,
        h("main", { class: "signin-page" }, h("p", { role: "alert" }, error.message), retry),
      );
      return;
    }
    writeToken(null);
    showSignIn((error as Error).message);
  }
}

void boot();
