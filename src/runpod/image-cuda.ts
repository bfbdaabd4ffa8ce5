/**
 * The CUDA a container image is built for, read from its tag, and the host constraint RunPod needs for it.
 * An image built for CUDA 12.8 does not start on a host whose driver only supports 12.4: the container never
 * comes up and the pod bills while RunPod restarts it. RunPod places the pod on a suitable host when the create
 * input says which driver CUDA versions are acceptable (`allowedCudaVersions`, `minCudaVersion`; runpodctl and
 * dstack send them).
 */

/** A CUDA release, major and minor (the patch level does not matter to driver compatibility). */
export interface CudaVersion {
  readonly major: number;
  readonly minor: number;
}

/**
 * Host CUDA versions RunPod lists for `allowedCudaVersions` (its REST API's enum). A newer host version is
 * missing here until it is added, which costs capacity, never a failed start.
 */
export const RUNPOD_HOST_CUDA_VERSIONS: readonly string[] = [
  "11.8",
  "12.0",
  "12.1",
  "12.2",
  "12.3",
  "12.4",
  "12.5",
  "12.6",
  "12.7",
  "12.8",
  "12.9",
  "13.0",
];

/** `cu1281`, `cu128`, `cu118` (RunPod's current tags), bounded by `-`, `_`, `.` or the ends. */
const CU_TOKEN = /(?:^|[-_.])cu(\d{3,4})(?=$|[-_.])/;
/** `cuda12.8.1`, `cuda12.1` (RunPod's older tags, pytorch/pytorch's tags). */
const CUDA_WORD = /(?:^|[-_.])cuda(\d{1,2})\.(\d)(?:\.\d+)?(?=$|[-_.])/;
/** nvidia/cuda's own tags start with the version: `12.4.1-runtime-ubuntu22.04`. */
const NVIDIA_CUDA_TAG = /^(\d{1,2})\.(\d)(?:\.\d+)?(?=$|-)/;

/** The tag of an image reference (`registry:port/path:tag@digest`), or null without one. */
function imageTag(imageName: string): { path: string; tag: string | null } {
  const withoutDigest = imageName.split("@")[0] ?? "";
  const slash = withoutDigest.lastIndexOf("/");
  const colon = withoutDigest.indexOf(":", slash + 1);
  return colon < 0
    ? { path: withoutDigest, tag: null }
    : { path: withoutDigest.slice(0, colon), tag: withoutDigest.slice(colon + 1) };
}

/**
 * The CUDA version an image's tag names, or null when the tag names none (a custom image, `latest`, a digest
 * only): what such an image needs cannot be known from its name. Pure.
 */
export function imageCudaVersion(imageName: string): CudaVersion | null {
  const { path, tag } = imageTag(imageName.trim());
  if (tag === null) return null;
  const cu = CU_TOKEN.exec(tag);
  if (cu?.[1] !== undefined) {
    // Two digits of major (CUDA 10 onwards), one of minor, an optional patch digit: 1281 = 12.8.1, 118 = 11.8.
    return { major: Number(cu[1].slice(0, 2)), minor: Number(cu[1].slice(2, 3)) };
  }
  const word = CUDA_WORD.exec(tag) ?? (/(^|\/)nvidia\/cuda$/.test(path) ? NVIDIA_CUDA_TAG.exec(tag) : null);
  if (word?.[1] !== undefined && word[2] !== undefined) {
    return { major: Number(word[1]), minor: Number(word[2]) };
  }
  return null;
}

/**
 * The create-input fields that keep a pod off hosts whose driver is older than its image's CUDA: the minimum,
 * and every RunPod host version from it up. Empty for an image whose tag names no CUDA version: nothing is
 * sent, and RunPod may place such a pod on any host. Pure.
 */
export function cudaHostConstraint(imageName: string): {
  minCudaVersion?: string;
  allowedCudaVersions?: string[];
} {
  const cuda = imageCudaVersion(imageName);
  if (cuda === null) return {};
  const atLeast = (v: string): boolean => {
    const [major = 0, minor = 0] = v.split(".").map(Number);
    return major > cuda.major || (major === cuda.major && minor >= cuda.minor);
  };
  const allowed = RUNPOD_HOST_CUDA_VERSIONS.filter(atLeast);
  return {
    minCudaVersion: `${cuda.major}.${cuda.minor}`,
    // An image newer than every listed host version: the minimum alone says it.
    ...(allowed.length > 0 ? { allowedCudaVersions: allowed } : {}),
  };
}
