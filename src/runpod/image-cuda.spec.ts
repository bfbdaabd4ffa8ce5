import { cudaHostConstraint, imageCudaVersion } from "./image-cuda";

describe("imageCudaVersion", () => {
  it.each<[string, string | null]>([
    ["runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2204", "12.8"],
    ["runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404", "12.8"],
    ["runpod/pytorch:0.7.0-dev-cu1241-torch260-ubuntu2204", "12.4"],
    ["runpod/pytorch:0.7.0-ubuntu2204-cu1251-torch251", "12.5"],
    ["runpod/pytorch:1.0.2-cu130-torch290-ubuntu2404", "13.0"],
    ["runpod/pytorch:1.0.0-cu118-torch200-ubuntu2204", "11.8"],
    ["runpod/pytorch:2.8.0-py3.11-cuda12.8.1-cudnn-devel-ubuntu22.04", "12.8"],
    ["runpod/pytorch:2.1.0-py3.10-cuda11.8.0-devel", "11.8"],
    ["pytorch/pytorch:2.7.0-cuda12.8-cudnn9-devel", "12.8"],
    ["nvidia/cuda:12.4.1-runtime-ubuntu22.04", "12.4"],
    ["registry.example.com:5000/team/trainer:cu1262-v3@sha256:" + "a".repeat(64), "12.6"],
    // No CUDA in the tag: nothing can be said.
    ["runpod/pytorch", null],
    ["runpod/pytorch:latest", null],
    ["ghcr.io/acme/trainer:2024.10", null],
    ["acme/cuda-tools:1.2", null],
    ["acme/trainer:incubator-2", null],
    ["localhost:5000/trainer", null],
  ])("%s -> %s", (image, expected) => {
    const cuda = imageCudaVersion(image);
    expect(cuda === null ? null : `${cuda.major}.${cuda.minor}`).toBe(expected);
  });
});

describe("cudaHostConstraint", () => {
  it("allows every host version from the image's CUDA up", () => {
    expect(cudaHostConstraint("runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2204")).toEqual({
      minCudaVersion: "12.8",
      allowedCudaVersions: ["12.8", "12.9", "13.0"],
    });
  });

  it("sends the minimum alone for an image newer than every listed host version", () => {
    expect(cudaHostConstraint("acme/trainer:cu132-x")).toEqual({ minCudaVersion: "13.2" });
  });

  it("sends nothing for an image that names no CUDA", () => {
    expect(cudaHostConstraint("acme/trainer:latest")).toEqual({});
  });
});
