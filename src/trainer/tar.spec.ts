import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { GATEWAY_ENV_NAMES, POD_DOCKER_ARGS, renderPod, trainerBundle } from "./pod-bootstrap";
import { tarBuffer } from "./tar";

describe("tarBuffer", () => {
  it("writes archives that the system's tar unpacks byte for byte, long names included", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "traingate-tar-"));
    const big = Buffer.alloc(70_000, 0x61);
    const long = `${"d".repeat(90)}/${"f".repeat(120)}.bin`;
    const archive = await tarBuffer([
      { name: "a.sh", content: Buffer.from("#!/bin/sh\necho hi\n"), mode: 0o755 },
      { name: "empty.txt", content: Buffer.alloc(0) },
      { name: "big.bin", content: big },
      { name: long, content: Buffer.from("x") },
    ]);
    execFileSync("tar", ["-xf", "-", "-C", dir], { input: archive });
    expect(readFileSync(path.join(dir, "a.sh"), "utf8")).toBe("#!/bin/sh\necho hi\n");
    expect(statSync(path.join(dir, "a.sh")).mode & 0o777).toBe(0o755);
    expect(readFileSync(path.join(dir, "empty.txt"))).toHaveLength(0);
    expect(readFileSync(path.join(dir, "big.bin")).equals(big)).toBe(true);
    expect(readFileSync(path.join(dir, long), "utf8")).toBe("x");
  });

  it("makes the same bytes from the same entries", async () => {
    const entries = [{ name: "a", content: Buffer.from("same") }];
    expect((await tarBuffer(entries)).equals(await tarBuffer(entries))).toBe(true);
  });

  it("refuses names that would unpack outside the folder", async () => {
    for (const name of ["/etc/passwd", "../up", "a/../../b", ""]) {
      await expect(tarBuffer([{ name, content: Buffer.alloc(0) }])).rejects.toThrow(/unsafe file name/);
    }
  });
});

describe("the pod bundle", () => {
  it("carries exactly the five trainer scripts and the pinned requirements, unpacked by the pod command", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "traingate-bundle-"));
    const archive = gunzipSync(Buffer.from(await trainerBundle(), "base64"));
    const listing = execFileSync("tar", ["-tf", "-"], { input: archive }).toString().trim().split("\n");
    expect(listing.sort()).toEqual([
      "artifact_upload.py",
      "bootstrap.sh",
      "hub_push.py",
      "metrics_reporter.py",
      "requirements.txt",
      "train.py",
    ]);
    execFileSync("tar", ["-xf", "-", "-C", dir], { input: archive });
    for (const file of ["train.py", "requirements.txt"]) {
      expect(readFileSync(path.join(dir, file), "utf8")).toBe(
        readFileSync(path.join(__dirname, "../../trainer-scripts", file), "utf8"),
      );
    }
    expect(statSync(path.join(dir, "requirements.txt")).mode & 0o777).toBe(0o644);
    expect(statSync(path.join(dir, "bootstrap.sh")).mode & 0o777).toBe(0o755);
    expect(POD_DOCKER_ARGS).not.toMatch(/JOB_TOKEN|\{\{/);
  });

  it("passes hostile values through the environment, intact and never as shell text", async () => {
    const hostile = `it's "quoted" $(touch /tmp/pwned) \`id\`\nnext line`;
    const { env, dockerArgs } = await renderPod({
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
        output: {
          hubRepoId: null,
          hubPrivate: true,
          networkVolumeId: null,
          gateway: true,
          onComplete: "STOP",
        },
      },
      gpuCount: 1,
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

  it("sets exactly the gateway's own variables besides the caller's, the GPU count among them", async () => {
    const render = async (hfToken?: string) =>
      (
        await renderPod({
          jobId: "job-1",
          jobToken: "tok",
          deploymentId: "dep-1",
          metricsApiUrl: "http://gw/api/training/jobs",
          budgetDeadline: new Date("2026-11-28T21:00:00Z"),
          config: {} as never,
          gpuCount: 4,
          hfToken,
          userEnv: { WANDB_PROJECT: "p" },
        })
      ).env;
    expect(Object.keys(await render()).sort()).toEqual(["WANDB_PROJECT", ...GATEWAY_ENV_NAMES].sort());
    expect((await render()).TRAINGATE_GPU_COUNT).toBe("4");
    expect((await render("hf_x")).HF_TOKEN).toBe("hf_x");
    expect(Object.keys(await render("hf_x"))).toHaveLength(GATEWAY_ENV_NAMES.length + 2);
  });

  it("stays small enough to travel in one environment variable", async () => {
    expect((await trainerBundle()).length).toBeLessThan(96 * 1024);
  });
});
