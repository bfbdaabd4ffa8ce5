import { streamErrors } from "./stream.errors";

/**
 * An async iterator fed by pushes, with a bounded buffer: a consumer that falls too far behind (a slow
 * WebSocket) ends with an error instead of growing the server's memory. `onClose` runs once, however the
 * iteration ends (consumer return, error, or `close`).
 */
export class BoundedChannel<T> implements AsyncIterableIterator<T> {
  private readonly buffer: T[] = [];
  private readonly waiters: Array<(result: IteratorResult<T>) => void> = [];
  private readonly failures: Array<(error: unknown) => void> = [];
  private ended = false;
  private failure: unknown;
  private cleanup?: () => void | Promise<void>;

  constructor(
    private readonly capacity: number,
    private readonly describeOverflow?: string,
  ) {}

  private readonly endHandlers: Array<() => void> = [];

  /** Runs when the channel ends, whatever ends it (one cleanup per channel: its owner's). */
  onClose(cleanup: () => void | Promise<void>): void {
    this.cleanup = cleanup;
    if (this.ended) void this.runCleanup();
  }

  /** Also runs when the channel ends; any number of these. */
  onEnd(handler: () => void): void {
    if (this.ended) handler();
    else this.endHandlers.push(handler);
  }

  push(value: T): void {
    if (this.ended) return;
    const waiter = this.waiters.shift();
    if (waiter) {
      this.failures.shift();
      waiter({ value, done: false });
      return;
    }
    if (this.buffer.length >= this.capacity) {
      this.fail(streamErrors.fellBehind(this.describeOverflow));
      return;
    }
    this.buffer.push(value);
  }

  /** Ends the iteration with an error (after what is buffered is dropped). */
  fail(error: unknown): void {
    if (this.ended) return;
    this.failure = error;
    this.buffer.length = 0;
    this.finish();
    for (const reject of this.failures.splice(0)) reject(error);
    this.waiters.length = 0;
  }

  /** Ends the iteration normally once the buffer is drained. */
  close(): void {
    if (this.ended) return;
    this.finish();
    if (this.buffer.length === 0)
      for (const resolve of this.waiters.splice(0)) resolve({ value: undefined, done: true });
    this.failures.length = 0;
  }

  get size(): number {
    return this.buffer.length;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.buffer.length > 0) return Promise.resolve({ value: this.buffer.shift()!, done: false });
    if (this.failure !== undefined) {
      const error = this.failure;
      this.failure = undefined;
      return Promise.reject(error instanceof Error ? error : new Error("subscription failed"));
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiters.push(resolve);
      this.failures.push(reject);
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.buffer.length = 0;
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<T>> {
    this.fail(error);
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  private finish(): void {
    this.ended = true;
    for (const handler of this.endHandlers.splice(0)) handler();
    void this.runCleanup();
  }

  private async runCleanup(): Promise<void> {
    const cleanup = this.cleanup;
    this.cleanup = undefined;
    await cleanup?.();
  }
}

/** `source` with each value mapped; ending the result ends the source. */
export function mapIterator<T, U>(
  source: AsyncIterableIterator<T>,
  map: (value: T) => Promise<U>,
): AsyncIterableIterator<U> {
  const iterator: AsyncIterableIterator<U> = {
    async next() {
      const result = await source.next();
      return result.done ? { value: undefined, done: true } : { value: await map(result.value), done: false };
    },
    async return() {
      await source.return?.();
      return { value: undefined, done: true };
    },
    async throw(error?: unknown) {
      await source.throw?.(error);
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
