import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { POD_DOCKER_ARGS, renderPod, trainerBundle } from "./pod-bootstrap";
import { tar } from "./tar";

describe("tar", () => {
  it("writes archives that the system's tar unpacks byte for byte", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "traingate-tar-"));
    const big = Buffer.alloc(70_000, 0x61);
    const archive = tar([
      { name: "a.sh", content: Buffer.from("#!/bin/sh\necho hi\n"), mode: 0o755 },
      { name: "empty.txt", content: Buffer.alloc(0) },
      { name: "big.bin", content: big },
    ]);
    execFileSync("tar", ["-xf", "-", "-C", dir], { input: archive });
    expect(readFileSync(path.join(dir, "a.sh"), "utf8")).toBe("#!/bin/sh\necho hi\n");
    expect(statSync(path.join(dir, "a.sh")).mode & 0o777).toBe(0o755);
    expect(readFileSync(path.join(dir, "empty.txt"))).toHaveLength(0);
    expect(readFileSync(path.join(dir, "big.bin")).equals(big)).toBe(true);
  });

  it("refuses names it cannot write safely", () => {
    expect(() => tar([{ name: "x".repeat(100), content: Buffer.alloc(0) }])).toThrow();
    expect(() => tar([{ name: "a b", content: Buffer.alloc(0) }])).toThrow();
  });
});

describe("the pod bundle", () => {
  it("carries exactly the four trainer scripts, unpacked by the pod command", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "traingate-bundle-"));
    const archive = gunzipSync(Buffer.from(trainerBundle(), "base64"));
    const listing = execFileSync("tar", ["-tf", "-"], { input: archive }).toString().trim().split("\n");
    expect(listing.sort()).toEqual(["bootstrap.sh", "hub_push.py", "metrics_reporter.py", "train.py"]);
    execFileSync("tar", ["-xf", "-", "-C", dir], { input: archive });
    expect(readFileSync(path.join(dir, "train.py"), "utf8")).toBe(
      readFileSync(path.join(__dirname, "../../trainer-scripts/train.py"), "utf8"),
    );
    expect(POD_DOCKER_ARGS).not.toMatch(/JOB_TOKEN|\{\{/);
  });

  it("passes hostile values through the environment, intact and never as shell text", () => {
    const hostile = `it's "quoted" $(touch /tmp/pwned) \`id\`\nnext line`;
    const { env, dockerArgs } = renderPod({
      jobId: "job-1",
      jobToken: "tok",
      deploymentId: "dep-1",
      metricsApiUrl: "http://gw/api/training/jobs",
      budgetDeadline: new Date("2026-11-28T21:00:00.123Z"),
      config: {
        modelName: "org/model",
        datasetUrl: `https://example.com/d.jsonl?q=${encodeURIComponent(hostile)}`,
        method: "LORA" as never,
        hyperparameters: {} as never,
        output: { hubRepoId: null, hubPrivate: true, networkVolumeId: null, onComplete: "STOP" as never },
      },
      userEnv: { WANDB_NOTES: hostile },
    });
    expect(env.WANDB_NOTES).toBe(hostile);
    expect(env.BUDGET_DEADLINE).toBe("2026-11-28T21:00:00Z");
    const config = JSON.parse(Buffer.from(env.TRAINGATE_CONFIG_B64, "base64").toString("utf8")) as {
      datasetUrl: string;
    };
    expect(decodeURIComponent(config.datasetUrl.split("q=")[1])).toBe(hostile);
    expect(dockerArgs).toBe(POD_DOCKER_ARGS);
    expect(env.HF_TOKEN).toBeUndefined();
  });
});
