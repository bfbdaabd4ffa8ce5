import { AppError, ErrorCode } from "../errors/app-error";
import { CloudType, GpuType } from "./gpu-catalogue";
import { GpuOfferService } from "./gpu-offer.service";
import type { GpuOffer, GpuOfferQuery, RunpodClient } from "./runpod-client";

/** A fake upstream that records what it was asked and answers from a counter, so each fetch is distinguishable. */
class FakeOffers implements Pick<RunpodClient, "listGpuOffers"> {
  readonly calls: { apiKey: string | undefined; query: GpuOfferQuery }[] = [];
  failNext = false;
  private pending: (() => void) | null = null;
  hold = false;

  listGpuOffers(apiKey: string | undefined, query: GpuOfferQuery): Promise<GpuOffer[]> {
    this.calls.push({ apiKey, query });
    const n = this.calls.length;
    const answer = (): GpuOffer[] => {
      if (this.failNext) {
        this.failNext = false;
        throw new AppError(ErrorCode.UPSTREAM_UNAVAILABLE, "down");
      }
      return [
        {
          gpuType: GpuType.RTX_A4000,
          runpodGpuTypeId: "NVIDIA RTX A4000",
          displayName: "RTX A4000",
          memoryGb: 16,
          pricePerHourUsd: n,
          spotPricePerHourUsd: null,
          stockStatus: "High",
          available: true,
        },
      ];
    };
    if (!this.hold) return Promise.resolve().then(answer);
    return new Promise((resolve, reject) => {
      this.pending = () => {
        try {
          resolve(answer());
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      };
    });
  }

  release(): void {
    this.pending?.();
    this.pending = null;
  }
}

describe("GpuOfferService", () => {
  let now = 1_000_000;
  const clock = (): number => now;
  const secure1 = { cloudType: CloudType.SECURE, gpuCount: 1 };

  beforeEach(() => {
    now = 1_000_000;
  });

  it("serves a quote for 60 s, then asks again", async () => {
    const upstream = new FakeOffers();
    const service = new GpuOfferService(upstream, { now: clock });
    expect((await service.list(secure1))[0]?.pricePerHourUsd).toBe(1);
    now += 59_999;
    expect((await service.list(secure1))[0]?.pricePerHourUsd).toBe(1);
    now += 1;
    expect((await service.list(secure1))[0]?.pricePerHourUsd).toBe(2);
    expect(upstream.calls).toHaveLength(2);
  });

  it("keeps (cloudType, gpuCount) apart and always asks anonymously", async () => {
    const upstream = new FakeOffers();
    const service = new GpuOfferService(upstream, { now: clock });
    await service.list(secure1);
    await service.list({ cloudType: CloudType.COMMUNITY, gpuCount: 1 });
    await service.list({ cloudType: CloudType.SECURE, gpuCount: 2 });
    await service.list(secure1);
    expect(upstream.calls.map((c) => c.query)).toEqual([
      secure1,
      { cloudType: CloudType.COMMUNITY, gpuCount: 1 },
      { cloudType: CloudType.SECURE, gpuCount: 2 },
    ]);
    expect(upstream.calls.every((c) => c.apiKey === undefined)).toBe(true);
  });

  it("shares one upstream call between concurrent misses", async () => {
    const upstream = new FakeOffers();
    upstream.hold = true;
    const service = new GpuOfferService(upstream, { now: clock });
    const a = service.list(secure1);
    const b = service.list(secure1);
    upstream.release();
    expect(await a).toEqual(await b);
    expect(upstream.calls).toHaveLength(1);
  });

  it("does not cache failures", async () => {
    const upstream = new FakeOffers();
    upstream.failNext = true;
    const service = new GpuOfferService(upstream, { now: clock });
    await expect(service.list(secure1)).rejects.toMatchObject({ code: ErrorCode.UPSTREAM_UNAVAILABLE });
    expect((await service.list(secure1))[0]?.pricePerHourUsd).toBe(2);
  });

  it.each([0, 9, 1.5, -1])("refuses gpuCount %p without asking upstream", async (gpuCount) => {
    const upstream = new FakeOffers();
    const service = new GpuOfferService(upstream, { now: clock });
    await expect(service.list({ cloudType: CloudType.SECURE, gpuCount })).rejects.toMatchObject({
      code: ErrorCode.BAD_USER_INPUT,
    });
    expect(upstream.calls).toHaveLength(0);
  });

  it("clear() forgets everything", async () => {
    const upstream = new FakeOffers();
    const service = new GpuOfferService(upstream, { now: clock });
    await service.list(secure1);
    service.clear();
    await service.list(secure1);
    expect(upstream.calls).toHaveLength(2);
  });
});
