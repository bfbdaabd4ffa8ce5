/**
 * What the TypeScript examples share: where the gateway is, the token, a graphql-request client, and how a
 * failure is told to a person (the gateway's `extensions.code` first, then its message).
 */
import { ClientError, GraphQLClient } from "graphql-request";

export interface Settings {
  /** Base URL of the gateway, without a trailing slash, e.g. `http://localhost:4000`. */
  url: string;
  /** A user JWT (what `npm run demo` prints). */
  token: string;
}

/** A mistake in how the example was started: printed with the usage text. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** `--url`/`--token` win over `TRAINGATE_URL`/`TRAINGATE_TOKEN`; the URL defaults to the demo's. */
export function readSettings(args: { url?: string; token?: string }): Settings {
  const url = (args.url ?? process.env.TRAINGATE_URL ?? "http://localhost:4000").replace(/\/+$/, "");
  const token = args.token ?? process.env.TRAINGATE_TOKEN;
  if (!token) {
    throw new UsageError("no token: set TRAINGATE_TOKEN (npm run demo prints one) or pass --token <jwt>");
  }
  if (!/^https?:\/\/[^/]+/.test(url)) throw new UsageError(`not an http(s) URL: ${url}`);
  return { url, token };
}

/** GraphQL over HTTP at `<url>/graphql`, authenticated as the token's user. */
export function graphqlClient(settings: Settings): GraphQLClient {
  return new GraphQLClient(`${settings.url}/graphql`, {
    headers: { authorization: `Bearer ${settings.token}` },
  });
}

/** The shape of a GraphQL error as it travels (over HTTP or WebSocket). */
export interface WireError {
  message: string;
  extensions?: Record<string, unknown>;
}

/** `CODE: message`, with the offending input field when the gateway named one. */
export function describeWireError(error: WireError): string {
  const code = typeof error.extensions?.code === "string" ? error.extensions.code : "ERROR";
  const field = typeof error.extensions?.field === "string" ? ` (field ${error.extensions.field})` : "";
  return `${code}: ${error.message}${field}`;
}

/** The `extensions.code` of the first GraphQL error in a failure, if there is one. */
export function errorCode(error: unknown): string | undefined {
  if (!(error instanceof ClientError)) return undefined;
  const code = error.response.errors?.[0]?.extensions?.code;
  return typeof code === "string" ? code : undefined;
}

/** One line per thing that went wrong, for people. */
export function describeError(error: unknown, settings?: Settings): string[] {
  if (error instanceof ClientError) {
    const errors = error.response.errors ?? [];
    if (errors.length > 0) return errors.map((e) => describeWireError(e));
    const body = typeof error.response.body === "string" ? error.response.body.slice(0, 200) : "";
    return [`HTTP ${error.response.status} from the gateway${body ? `: ${body}` : ""}`];
  }
  if (error instanceof TypeError && error.message === "fetch failed") {
    const cause: unknown = error.cause;
    const why =
      cause instanceof Error ? ((cause as NodeJS.ErrnoException).code ?? cause.message) : "no answer";
    return [
      `cannot reach the gateway at ${settings?.url ?? "the given URL"} (${why}): is it running? (npm run demo)`,
    ];
  }
  if (error instanceof Error) return [error.message];
  return [String(error)];
}

/** An expected failure: the lines to print and the exit status. */
export class Failure extends Error {
  override name = "Failure";
  constructor(
    readonly lines: readonly string[],
    readonly exitCode = 1,
  ) {
    super(lines.join("; "));
  }
}

/** Exits once everything written so far has reached stdout and stderr (pipes may be asynchronous). */
export function exitAfterFlush(exitCode: number): void {
  process.stdout.write("", () => process.stderr.write("", () => process.exit(exitCode)));
}

/**
 * Runs an example's `main` and exits with its status: 0 or what it returned, 1 for a failure (printed as
 * `error: …` lines on stderr), 2 for a usage mistake (printed with `usage`).
 */
export function runMain(main: () => Promise<number>, usage: string): void {
  main().then(exitAfterFlush, (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`error: ${error.message}\n\n${usage}\n`);
      exitAfterFlush(2);
      return;
    }
    const failure = error instanceof Failure ? error : new Failure(describeError(error));
    for (const line of failure.lines) process.stderr.write(`error: ${line}\n`);
    exitAfterFlush(failure.exitCode);
  });
}
