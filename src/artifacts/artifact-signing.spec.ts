import { DownloadSigner } from "./artifact-signing";

describe("DownloadSigner", () => {
  const signer = new DownloadSigner(Buffer.alloc(32, 1));
  const job = "0b7e3c1a-5a63-4c43-9b1e-7d1c6f9e2a10";
  const now = 1_764_500_000_000;
  const parts = (query: string) => {
    const params = new URLSearchParams(query);
    return [params.get("expires"), params.get("signature")] as const;
  };

  it.each([
    ["its own link, in time", job, now + 14 * 60_000, "valid"],
    ["the same job in upper case", job.toUpperCase(), now, "valid"],
    ["after 15 minutes", job, now + 16 * 60_000, "expired"],
    ["another job", "1b7e3c1a-5a63-4c43-9b1e-7d1c6f9e2a10", now, "invalid"],
  ])("answers %s", (_what, asked, at, outcome) => {
    expect(signer.verify(asked, ...parts(signer.sign(job, now)), at)).toBe(outcome);
  });

  it("refuses a changed expiry, a key of another gateway, and missing parts", () => {
    const [expires, signature] = parts(signer.sign(job, now));
    expect(signer.verify(job, String(Number(expires) + 3600), signature, now)).toBe("invalid");
    expect(new DownloadSigner(Buffer.alloc(32, 2)).verify(job, expires, signature, now)).toBe("invalid");
    expect(signer.verify(job, null, signature, now)).toBe("invalid");
    expect(signer.verify(job, expires, null, now)).toBe("invalid");
    expect(signer.verify(job, "1e9", signature, now)).toBe("invalid");
  });
});
