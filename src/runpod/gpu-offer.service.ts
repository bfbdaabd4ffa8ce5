import { CloudType, isGpuCount } from "./gpu-catalogue";
import type { GpuOffer, GpuOfferQuery, RunpodClient } from "./runpod-client";
import { upstreamErrors } from "./runpod.errors";

export interface GpuOfferServiceOptions {
  /** How long a quote is served from memory. Default 60 s. */
  readonly ttlMs?: number;
  /** Clock, for tests. Default `Date.now`. */
  readonly now?: () => number;
}

interface CacheEntry {
  readonly expiresAt: number;
  readonly offers: Promise<GpuOffer[]>;
}

/**
 * Live GPU prices and stock for the `gpuTypes` query, cached for 60 s per (cloudType, gpuCount).
 *
 * One cache for every user, on purpose: prices and stock are public, and RunPod answers `gpuTypes` without a key
 * (gpuhunt and RunPod's own gpu_types helper ask it anonymously), so the service asks anonymously and nobody's key is used for anybody else's answer. The key
 * space is bounded (2 clouds x 8 counts), so the cache cannot grow without limit. Concurrent misses for the same
 * key share one upstream call; failures are not cached.
 *
 * The cache lives here rather than in `RunpodGraphqlClient` so that the client stays a thin, uncached transport
 * (the contract suite needs fresh answers) and a REST client gets the same cache for free.
 */
export class GpuOfferService {
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly cache = new Map<string, CacheEntry>();

  constructor(
    private readonly client: Pick<RunpodClient, "listGpuOffers">,
    options: GpuOfferServiceOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  /** Offers for one cloud type and GPU count (prices for the whole pod). */
  async list(query: GpuOfferQuery): Promise<GpuOffer[]> {
    if (!isGpuCount(query.gpuCount)) throw upstreamErrors.gpuCountOutOfRange();
    if (query.cloudType !== CloudType.SECURE && query.cloudType !== CloudType.COMMUNITY) {
      throw upstreamErrors.badCloudType();
    }
    const key = `${query.cloudType}:${query.gpuCount}`;
    const hit = this.cache.get(key);
    if (hit !== undefined && hit.expiresAt > this.now()) return hit.offers;

    const offers = this.client.listGpuOffers(undefined, {
      cloudType: query.cloudType,
      gpuCount: query.gpuCount,
    });
    const entry: CacheEntry = { expiresAt: this.now() + this.ttlMs, offers };
    this.cache.set(key, entry);
    try {
      return await offers;
    } catch (error: unknown) {
      // Only drop our own entry: a newer call may already have replaced it.
      if (this.cache.get(key) === entry) this.cache.delete(key);
      throw error;
    }
  }

  /** Forgets every cached quote. */
  clear(): void {
    this.cache.clear();
  }
}
