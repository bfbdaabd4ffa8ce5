import { existsSync } from "node:fs";
import path from "node:path";
import type { Express, NextFunction, Request, Response } from "express";

export interface WebRoutesOptions {
  /** PLAYGROUND_ENABLED: when false, `/playground` and the HTML answer of `GET /graphql` are 404. */
  playgroundEnabled: boolean;
  /** The built files (`npm run build:web`); found by walking up from this file to `dist/web` by default. */
  root?: string;
}

/**
 * The playground needs more than the dashboard, for Monaco (GraphiQL 5's editor): it injects `<style>`
 * elements at run time and has no nonce support (hence `style-src 'unsafe-inline'`), GraphiQL's stylesheet
 * inlines its fonts as `data:` URIs, and the language services run in same-origin workers. Neither page
 * needs `unsafe-eval`, and neither loads anything from another origin. `ws:`/`wss:` because browsers did
 * not always count the page's own WebSocket origin as `'self'`.
 */
export const CONTENT_SECURITY_POLICY = {
  dashboard: [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "font-src 'self'",
    "connect-src 'self' ws: wss:",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; "),
  playground: [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self' ws: wss:",
    "worker-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; "),
} as const;

type App = keyof typeof CONTENT_SECURITY_POLICY;

const PAGE_HEADERS = {
  "Cache-Control": "no-cache",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
  "Cross-Origin-Opener-Policy": "same-origin",
};

/** Asset names are content-hashed by the build, so a browser may keep them for a year unasked. */
const ASSET_CACHE = "public, max-age=31536000, immutable";

const CONTENT_TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".ttf": "font/ttf",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".map": "application/json; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
};

/** Files the build also wrote as `<name>.br` and `<name>.gz` (see build.ts). */
const PRECOMPRESSED = new Set([".js", ".css", ".svg", ".ttf"]);

/**
 * Serves the built web UI: the playground at `/playground` and at `GET /graphql` for browsers (when the
 * `Accept` header prefers HTML; anything else goes on to Apollo), and the dashboard at `/dashboard/…`.
 * Mount it before the `/graphql` middleware.
 */
export function mountWebRoutes(app: Express, options: WebRoutesOptions): void {
  let found: string | undefined;
  // Looked up on first use (and again until found), so a gateway started before `npm run build:web` works.
  const webRoot = () => options.root ?? (found ??= findWebRoot(__dirname));

  const page =
    (name: App, status = 200) =>
    (_req: Request, res: Response, next: NextFunction) => {
      const dir = webRoot();
      if (!dir) return notBuilt(res);
      res.status(status);
      res.sendFile(
        path.join(dir, name, "index.html"),
        {
          headers: { ...PAGE_HEADERS, "Content-Security-Policy": CONTENT_SECURITY_POLICY[name] },
          cacheControl: false,
          acceptRanges: false,
          dotfiles: "deny",
        },
        (error?: Error & { code?: string }) => {
          if (!error || res.headersSent) return;
          if (error.code === "ENOENT") return notBuilt(res);
          next(error);
        },
      );
    };

  const asset = (name: App) => (req: Request, res: Response, next: NextFunction) => {
    const dir = webRoot();
    const file = req.params.file;
    if (!dir) return notBuilt(res);
    // The build writes a flat folder of hashed names; anything else (a path, a dotfile) is not ours.
    if (typeof file !== "string" || !/^[\w-]+(?:\.[\w-]+)*$/.test(file)) return notFound(res);
    const ext = path.extname(file);
    const encoding = PRECOMPRESSED.has(ext) ? preferredEncoding(req) : undefined;
    const headers: Record<string, string> = {
      "Cache-Control": ASSET_CACHE,
      "Content-Type": CONTENT_TYPES[ext] ?? "application/octet-stream",
      "X-Content-Type-Options": "nosniff",
      "Cross-Origin-Resource-Policy": "same-origin",
    };
    if (PRECOMPRESSED.has(ext)) headers.Vary = "Accept-Encoding";
    const send = (suffix: string, fallback?: () => void) => {
      if (suffix) headers["Content-Encoding"] = suffix === ".br" ? "br" : "gzip";
      else delete headers["Content-Encoding"];
      res.sendFile(
        path.join(dir, name, "assets", file + suffix),
        { headers, cacheControl: false, acceptRanges: false, dotfiles: "deny" },
        (error?: Error & { code?: string; status?: number }) => {
          if (!error || res.headersSent) return;
          const missing = error.code === "ENOENT" || error.status === 404;
          if (missing && fallback) return fallback();
          if (missing) return notFound(res);
          next(error);
        },
      );
    };
    if (encoding === "br") send(".br", () => send(""));
    else if (encoding === "gzip") send(".gz", () => send(""));
    else send("");
  };

  app.get("/graphql", (req: Request, res: Response, next: NextFunction) => {
    if (req.accepts(["application/json", "application/graphql-response+json", "text/html"]) !== "text/html") {
      return next();
    }
    if (!options.playgroundEnabled) return playgroundDisabled(res);
    page("playground")(req, res, next);
  });

  if (options.playgroundEnabled) {
    app.get(["/playground", "/playground/"], page("playground"));
    app.get("/playground/assets/:file", asset("playground"));
  } else {
    app.get(["/playground", "/playground/", "/playground/assets/:file"], (_req: Request, res: Response) =>
      playgroundDisabled(res),
    );
  }

  app.get("/dashboard/assets/:file", asset("dashboard"));
  app.get(["/dashboard", "/dashboard/", "/dashboard/new", "/dashboard/deployments/:id"], page("dashboard"));
  // Any other page under /dashboard: the app itself says "not found", with the status to match.
  app.get("/dashboard/{*rest}", page("dashboard", 404));
}

/** The nearest `dist/web` above `from`: `src/web/` under jest and ts-node, `dist/src/web/` under node. */
export function findWebRoot(from: string): string | undefined {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "dist", "web");
    if (existsSync(path.join(candidate, "dashboard", "index.html"))) return candidate;
    if (path.dirname(dir) === dir) return undefined;
  }
}

function preferredEncoding(req: Request): "br" | "gzip" | undefined {
  const encoding = req.acceptsEncodings("br", "gzip", "identity");
  return encoding === "br" || encoding === "gzip" ? encoding : undefined;
}

function notBuilt(res: Response): void {
  res
    .status(503)
    .type("text/plain")
    .send("The web UI is not built. Run `npm run build:web` (or `npm run build`) and reload.\n");
}

function notFound(res: Response): void {
  res.status(404).json({ error: "not found" });
}

function playgroundDisabled(res: Response): void {
  res.status(404).json({ error: "not found: the playground is disabled (PLAYGROUND_ENABLED=false)" });
}
