/**
 * The signed-in user's token, shared by the dashboard and the playground (same origin, same storage).
 * Kept in localStorage so that it survives a reload; "Sign out" removes it.
 */
const KEY = "traingate.token";

export function readToken(): string | null {
  try {
    return window.localStorage.getItem(KEY);
  } catch {
    return null; // storage disabled (privacy mode): the user signs in again on every load
  }
}

export function writeToken(token: string | null): void {
  try {
    if (token === null) window.localStorage.removeItem(KEY);
    else window.localStorage.setItem(KEY, token);
  } catch {
    // storage disabled: nothing to keep
  }
}

/** Accepts a bare JWT or a pasted `Bearer <JWT>` header value; null when nothing usable was pasted. */
export function normaliseToken(input: string): string | null {
  const token = input.trim().replace(/^Bearer\s+/i, "");
  return /^[\w-]+\.[\w-]+\.[\w-]*$/.test(token) ? token : null;
}

/** `ws://host/graphql` or `wss://host/graphql` for the page's own origin. */
export function graphqlWebSocketUrl(location: Location): string {
  return `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/graphql`;
}
