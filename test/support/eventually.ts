import type { ChildProcess } from "node:child_process";
import type { EventEmitter } from "node:events";
import type { Readable } from "node:stream";

/** A promise settled from outside, that rejects on its own once its time is up. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
  /** True once resolved, rejected or timed out. */
  readonly settled: boolean;
}

/**
 * A deferred for one awaited event: `resolve` it from the event's handler and await `promise`. After `timeoutMs`
 * it rejects with "timed out after N ms waiting for <what>" plus whatever `context()` says about the state then
 * (output so far, values received), so a failure names what never happened. Its timer is cleared on settling;
 * a deferred nobody awaits any more does not raise an unhandled rejection.
 */
export function deferred<T = void>(what: string, timeoutMs = 15_000, context?: () => string): Deferred<T> {
  let settled = false;
  let resolvePromise!: (value: T) => void;
  let rejectPromise!: (error: Error) => void;
  const promise = new Promise<T>((resolve, reject) => {
    resolvePromise = resolve;
    rejectPromise = reject;
  });
  promise.catch(() => undefined);
  const timer = setTimeout(() => {
    const detail = context?.();
    settle(() =>
      rejectPromise(
        new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail ? `; ${detail}` : ""}`),
      ),
    );
  }, timeoutMs);
  const settle = (action: () => void) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    action();
  };
  return {
    promise,
    resolve: (value) => settle(() => resolvePromise(value)),
    reject: (error) => settle(() => rejectPromise(error)),
    get settled() {
      return settled;
    },
  };
}

/**
 * Resolves with the first line of `stream` that matches `pattern`. Rejects after `timeoutMs`, when the stream
 * ends, or when `child` (the process writing it) exits first; every failure quotes the output so far.
 */
export function untilLine(
  stream: Readable,
  pattern: RegExp,
  what: string,
  options: { timeoutMs?: number; child?: ChildProcess } = {},
): Promise<RegExpExecArray> {
  let output = "";
  const tail = () => `it printed:\n${output.slice(-4000)}`;
  const wait = deferred<RegExpExecArray>(what, options.timeoutMs ?? 30_000, tail);
  let pending = "";
  const onData = (chunk: Buffer | string) => {
    const text = chunk.toString();
    output += text;
    pending += text;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) {
      const match = pattern.exec(line);
      if (match) return wait.resolve(match);
    }
  };
  const onEnd = () => wait.reject(new Error(`output ended before ${what}; ${tail()}`));
  const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
    wait.reject(new Error(`the process exited (${code ?? signal}) before ${what}; ${tail()}`));
  stream.on("data", onData);
  stream.once("end", onEnd);
  options.child?.once("exit", onExit);
  void wait.promise
    .finally(() => {
      stream.off("data", onData);
      stream.off("end", onEnd);
      options.child?.off("exit", onExit);
    })
    .catch(() => undefined);
  return wait.promise;
}

/** Resolves with the first `event` of `emitter` (its first argument); rejects after `timeoutMs`. */
export function untilEvent<T = unknown>(
  emitter: EventEmitter,
  event: string,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const wait = deferred<T>(what, timeoutMs);
  const listener = (value: T) => wait.resolve(value);
  emitter.once(event, listener);
  void wait.promise.finally(() => emitter.off(event, listener)).catch(() => undefined);
  return wait.promise;
}

/**
 * Polls `check` every 25 ms until it returns a value other than undefined/false; rejects after `timeoutMs`.
 * Only for states nothing announces (an HTTP health answer, a server-side subscription becoming live): where
 * the code under test emits an event, a line or a message, wait on it with {@link deferred} instead.
 */
export async function eventually<T>(
  check: () => Promise<T | undefined | false>,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
