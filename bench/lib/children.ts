/**
 * Child processes for benches: gateways and bare servers run in processes of their own, so the load generator
 * and the server under test never share an event loop.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { onCleanup, trackChild } from "./lifecycle";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");
const REGISTER_TS = path.join(REPO_ROOT, "test", "support", "register-ts.js");

export interface ChildHandle {
  readonly label: string;
  readonly pid: number;
  readonly process: ChildProcess;
  /** Resolves with the first stdout/stderr line (past or future) matching `pattern`. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /**
   * Sends `message` over the IPC channel (children started with `ipc`) and resolves with the first message back
   * whose `type` is `replyType`.
   */
  request<T extends { type: string }>(message: object, replyType: string, timeoutMs: number): Promise<T>;
  /** Resolves with the next line matching `pattern` printed from now on. */
  next(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** SIGTERM (the whole group for a detached child), then SIGKILL after `graceMs`. Resolves on exit. */
  stop(graceMs?: number): Promise<void>;
  /** The last lines it printed, for error messages. */
  tail(): string;
  readonly exited: Promise<void>;
}

export interface StartOptions {
  label: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  /** Own process group (for `npm start`, whose node is a grandchild): stop() signals the group. */
  detached?: boolean;
  /** Register the child for cleanup at the end of the bench (default true). */
  cleanup?: boolean;
  /** Open an IPC channel (node children only), for `request`. */
  ipc?: boolean;
}

/**
 * The environment a child gets: only what a shell needs plus `extra`, so nothing from the caller's environment
 * (DATABASE_URL, REDIS_URL, ...) changes the mode of the server under test.
 */
export function childEnv(extra: Record<string, string>): Record<string, string> {
  const base: Record<string, string> = {};
  for (const key of ["PATH", "HOME", "LANG", "TMPDIR", "TZ"]) {
    const value = process.env[key];
    if (value !== undefined) base[key] = value;
  }
  return { ...base, ...extra };
}

export function startChild(options: StartOptions): ChildHandle {
  const child = spawn(options.command, options.args, {
    cwd: REPO_ROOT,
    env: options.env,
    stdio: options.ipc ? ["ignore", "pipe", "pipe", "ipc"] : ["ignore", "pipe", "pipe"],
    detached: options.detached ?? false,
  });
  if (child.pid === undefined) throw new Error(`${options.label}: could not spawn ${options.command}`);
  const pid = child.pid;
  trackChild(child, options.detached ?? false);
  const lines: string[] = [];
  const listeners = new Set<(line: string) => void>();
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    let pending = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      pending += chunk;
      let newline: number;
      while ((newline = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        lines.push(line);
        if (lines.length > 200) lines.shift();
        for (const listener of [...listeners]) listener(line);
      }
    });
  }
  const tail = () => lines.slice(-40).join("\n");
  const match = (pattern: RegExp, timeoutMs: number, includePast: boolean) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      if (includePast) {
        for (const line of lines) {
          const found = pattern.exec(line);
          if (found) return resolve(found);
        }
      }
      const done = () => {
        listeners.delete(listener);
        clearTimeout(timer);
        child.off("exit", onExit);
      };
      const listener = (line: string) => {
        const found = pattern.exec(line);
        if (found) {
          done();
          resolve(found);
        }
      };
      const onExit = (code: number | null, signal: string | null) => {
        done();
        reject(
          new Error(`${options.label} exited (${code ?? signal}) before printing ${pattern}:\n${tail()}`),
        );
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${options.label} did not print ${pattern} within ${timeoutMs} ms:\n${tail()}`));
      }, timeoutMs);
      listeners.add(listener);
      child.once("exit", onExit);
    });
  let stopping: Promise<void> | undefined;
  const stop = (graceMs = 15_000): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const signal = (name: NodeJS.Signals) => {
        try {
          process.kill(options.detached ? -pid : pid, name);
        } catch {
          // already gone
        }
      };
      signal("SIGTERM");
      const killer = setTimeout(() => signal("SIGKILL"), graceMs);
      await exited;
      clearTimeout(killer);
    })();
    return stopping;
  };
  const request = <T extends { type: string }>(message: object, replyType: string, timeoutMs: number) =>
    new Promise<T>((resolve, reject) => {
      if (!child.send) return reject(new Error(`${options.label} has no IPC channel`));
      const onMessage = (reply: unknown) => {
        if (typeof reply === "object" && reply !== null && (reply as { type?: unknown }).type === replyType) {
          child.off("message", onMessage);
          clearTimeout(timer);
          resolve(reply as T);
        }
      };
      const timer = setTimeout(() => {
        child.off("message", onMessage);
        reject(new Error(`${options.label} did not answer ${replyType} within ${timeoutMs} ms`));
      }, timeoutMs);
      child.on("message", onMessage);
      child.send(message);
    });
  if (options.cleanup !== false) onCleanup(`stop ${options.label}`, () => stop());
  return {
    label: options.label,
    pid,
    process: child,
    waitFor: (pattern, timeoutMs) => match(pattern, timeoutMs, true),
    request,
    next: (pattern, timeoutMs) => match(pattern, timeoutMs, false),
    stop,
    tail,
    exited,
  };
}

/** A TypeScript entry point run by node with the repository's swc hook (no build step). */
export function startTsChild(
  label: string,
  script: string,
  env: Record<string, string>,
  nodeArgs: string[] = [],
): ChildHandle {
  return startChild({
    label,
    command: process.execPath,
    args: [...nodeArgs, "-r", REGISTER_TS, path.join(REPO_ROOT, script)],
    env: childEnv(env),
    ipc: true,
  });
}

/** Starts a server child and waits for its "ready <url>" line. */
export async function startServer(
  label: string,
  script: string,
  env: Record<string, string>,
  nodeArgs: string[] = [],
  timeoutMs = 60_000,
): Promise<ChildHandle & { url: string }> {
  const handle = startTsChild(label, script, env, nodeArgs);
  const [, url] = await handle.waitFor(/^ready (\S+)/, timeoutMs);
  return Object.assign(handle, { url });
}
