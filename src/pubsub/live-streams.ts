import type { BoundedChannel } from "./channel";
import type { EventBus, Topic, Unlisten } from "./event-bus";
import { streamErrors } from "./stream.errors";

export interface LiveStreamOptions {
  /** Concurrent subscriptions one user may hold on this replica. */
  maxPerUser?: number;
  /** Events a subscription may have waiting for its client before it is ended. */
  buffer?: number;
}

/**
 * The live streams of one replica, whatever they carry: each user holds at most `maxPerUser` of them, each is
 * fed from one bus topic into a bounded channel, and each ends with UPSTREAM_UNAVAILABLE when the bus loses
 * events. The domains own what their streams carry; this only counts and connects them.
 */
export class LiveStreams {
  readonly maxPerUser: number;
  readonly buffer: number;
  private readonly reserved = new Map<string, number>();
  private readonly livePerUser = new Map<string, number>();
  private live = 0;

  constructor(
    private readonly bus: EventBus,
    options: LiveStreamOptions = {},
  ) {
    this.maxPerUser = options.maxPerUser ?? 100;
    this.buffer = options.buffer ?? 5_000;
  }

  /**
   * Subscriptions on this replica whose listener is live (the bus confirmed it): from then on, everything
   * published on their topic reaches them.
   */
  get open(): number {
    return this.live;
  }

  /** Live subscriptions of one user on this replica. */
  openFor(userId: string): number {
    return this.livePerUser.get(userId) ?? 0;
  }

  /**
   * Feeds `channel` for `userId` from `topic`: takes one of the user's places (RATE_LIMITED when none is
   * left), listens, and resolves once the bus confirmed the listener, so what the caller reads after that (a
   * replay from the database) leaves no gap. However the channel ends, the place and the listener are released.
   */
  async feed<E, T>(
    userId: string,
    channel: BoundedChannel<T>,
    topic: Topic<E>,
    onEvent: (event: E) => void,
  ): Promise<void> {
    const release = this.reserve(userId);
    let unlisten: Unlisten | undefined;
    let closed = false;
    channel.onClose(async () => {
      closed = true;
      release();
      await unlisten?.();
    });
    try {
      unlisten = await this.bus.listen(topic, onEvent);
    } catch (error) {
      channel.fail(error);
      throw error;
    }
    // Ended while the listener was being confirmed: nothing will call it again.
    if (closed) {
      await unlisten();
      return;
    }
    this.markLive(userId, channel);
  }

  /** Counts a stream as live until its channel ends, and ends it when the bus may have lost events. */
  private markLive<T>(userId: string, channel: BoundedChannel<T>): void {
    const offInterrupted = this.bus.onInterrupted(() => channel.fail(streamErrors.interrupted()));
    channel.onEnd(offInterrupted);
    this.live += 1;
    this.livePerUser.set(userId, this.openFor(userId) + 1);
    channel.onEnd(() => {
      this.live -= 1;
      const left = this.openFor(userId) - 1;
      if (left <= 0) this.livePerUser.delete(userId);
      else this.livePerUser.set(userId, left);
    });
  }

  private reserve(userId: string): () => void {
    const open = this.reserved.get(userId) ?? 0;
    if (open >= this.maxPerUser) throw streamErrors.tooMany(this.maxPerUser);
    this.reserved.set(userId, open + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const now = (this.reserved.get(userId) ?? 1) - 1;
      if (now <= 0) this.reserved.delete(userId);
      else this.reserved.set(userId, now);
    };
  }
}
