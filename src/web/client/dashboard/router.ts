/** The dashboard's pages. The gateway serves the same index.html for every path under /dashboard/. */
export type Route =
  | { page: "deployments" }
  | { page: "deploy" }
  | { page: "deployment"; id: string }
  | { page: "webhooks" }
  | { page: "not-found" };

export const BASE = "/dashboard";

export const paths = {
  deployments: () => BASE,
  deploy: () => `${BASE}/new`,
  deployment: (id: string) => `${BASE}/deployments/${encodeURIComponent(id)}`,
  webhooks: () => `${BASE}/webhooks`,
};

export function parseRoute(pathname: string): Route {
  const rest = pathname.startsWith(BASE) ? pathname.slice(BASE.length).replace(/\/+$/, "") : null;
  if (rest === null) return { page: "not-found" };
  if (rest === "") return { page: "deployments" };
  if (rest === "/new") return { page: "deploy" };
  if (rest === "/webhooks") return { page: "webhooks" };
  const match = /^\/deployments\/([^/]+)$/.exec(rest);
  if (match?.[1]) return { page: "deployment", id: decodeURIComponent(match[1]) };
  return { page: "not-found" };
}

/**
 * History-API routing: plain `<a data-route href>` links (so they work with the keyboard, in a new tab, and
 * without the router) are followed in place; back and forward re-render.
 */
export class Router {
  private readonly onClick = (event: MouseEvent) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey)
      return;
    if (event.altKey) return;
    const anchor = (event.target as Element | null)?.closest?.("a[data-route]");
    if (!(anchor instanceof HTMLAnchorElement) || anchor.origin !== window.location.origin) return;
    event.preventDefault();
    this.navigate(anchor.pathname + anchor.search);
  };
  private readonly onPopState = () => this.render(parseRoute(window.location.pathname));

  constructor(private readonly render: (route: Route) => void) {
    document.addEventListener("click", this.onClick);
    window.addEventListener("popstate", this.onPopState);
  }

  navigate(path: string, options: { replace?: boolean } = {}): void {
    if (options.replace) window.history.replaceState(null, "", path);
    else window.history.pushState(null, "", path);
    this.render(parseRoute(window.location.pathname));
  }

  current(): Route {
    return parseRoute(window.location.pathname);
  }

  dispose(): void {
    document.removeEventListener("click", this.onClick);
    window.removeEventListener("popstate", this.onPopState);
  }
}
