/**
 * The GraphQL documents TrainGate sends to RunPod. Imported only by runpod-graphql-client.ts and by the test
 * that validates every one of them against schema/runpod.graphql.
 *
 * Rules (a value pasted into a document breaks it, or changes its meaning, as soon as it holds a quote, a
 * backslash, a newline or `$`):
 * - Every value travels as a GraphQL variable; nothing is ever pasted into a document. The test walks each
 *   document and fails on any literal argument value.
 * - Variables are declared only with RunPod's confirmed input type names (`PodFindAndDeployOnDemandInput`,
 *   `GpuLowestPriceInput`); elsewhere scalars go into inline input objects, `podStop(input: {podId: $podId})`,
 *   exactly as runpodctl's api/pod.go does, so the inferred names of the other input types never matter.
 * - Documents are composed by concatenating constants, never by template interpolation.
 */

/**
 * Every pod field TrainGate reads (the union of what runpodctl, runpod-python and dstack select), inlined
 * into each document as those clients do: a fragment would need a type condition, and no official client
 * names RunPod's pod type. `env` is left out: it echoes the job token and the ~47 KB trainer bundle on every
 * poll, and nothing TrainGate does reads it back (pods are found again by name).
 */
const POD_SELECTION =
  "{\n" +
  "    id\n    name\n    imageName\n    desiredStatus\n    lastStatusChange\n    costPerHr\n    uptimeSeconds\n" +
  "    gpuCount\n    vcpuCount\n    memoryInGb\n    containerDiskInGb\n    volumeInGb\n    volumeMountPath\n" +
  "    ports\n    machineId\n" +
  "    machine { podHostId gpuDisplayName location }\n" +
  "    runtime { uptimeInSeconds ports { ip isIpPublic privatePort publicPort type } }\n" +
  "  }";

/** `podFindAndDeployOnDemand`: creates an on-demand pod. Returns null data plus errors on no capacity. */
export const CREATE_POD_DOCUMENT =
  "mutation CreatePod($input: PodFindAndDeployOnDemandInput!) {\n" +
  "  podFindAndDeployOnDemand(input: $input) " +
  POD_SELECTION +
  "\n}\n";

/** `pod(input: {podId})`: one pod, null when unknown or terminated. */
export const GET_POD_DOCUMENT =
  "query GetPod($podId: String!) {\n" + "  pod(input: { podId: $podId }) " + POD_SELECTION + "\n}\n";

/** `myself { pods }`: every non-terminated pod of the key's account. */
export const LIST_PODS_DOCUMENT = "query ListPods {\n" + "  myself { pods " + POD_SELECTION + " }\n" + "}\n";

/** `podStop`: selects what the docs' sample answer shows. */
export const STOP_POD_DOCUMENT =
  "mutation StopPod($podId: String!) {\n" +
  "  podStop(input: { podId: $podId }) { id desiredStatus lastStatusChange }\n" +
  "}\n";

/** `podResume` with the GPU count to come back with. */
export const RESUME_POD_DOCUMENT =
  "mutation ResumePod($podId: String!, $gpuCount: Int!) {\n" +
  "  podResume(input: { podId: $podId, gpuCount: $gpuCount }) " +
  POD_SELECTION +
  "\n}\n";

/** `podTerminate` returns a scalar, so it has no selection set (runpodctl only checks the key exists). */
export const TERMINATE_POD_DOCUMENT =
  "mutation TerminatePod($podId: String!) {\n" + "  podTerminate(input: { podId: $podId })\n" + "}\n";

/**
 * `gpuTypes` with list prices and `lowestPrice` for one GPU count and cloud (`secureCloud: true` = SECURE,
 * `false` = COMMUNITY). Works without a key (gpuhunt, RunPod's own docs helper).
 */
export const GPU_OFFERS_DOCUMENT =
  "query GpuOffers($lowestPriceInput: GpuLowestPriceInput!) {\n" +
  "  gpuTypes {\n" +
  "    id\n    displayName\n    memoryInGb\n    maxGpuCount\n    secureCloud\n    communityCloud\n" +
  "    securePrice\n    communityPrice\n    secureSpotPrice\n    communitySpotPrice\n" +
  "    lowestPrice(input: $lowestPriceInput) { minimumBidPrice uninterruptablePrice stockStatus availableGpuCounts }\n" +
  "  }\n" +
  "}\n";

/** `myself { networkVolumes }`. */
export const NETWORK_VOLUMES_DOCUMENT =
  "query NetworkVolumes {\n" + "  myself { networkVolumes { id name size dataCenterId } }\n" + "}\n";

/** Every document, by operation name, for the validation test. */
export const RUNPOD_DOCUMENTS: Readonly<Record<string, string>> = Object.freeze({
  CreatePod: CREATE_POD_DOCUMENT,
  GetPod: GET_POD_DOCUMENT,
  ListPods: LIST_PODS_DOCUMENT,
  StopPod: STOP_POD_DOCUMENT,
  ResumePod: RESUME_POD_DOCUMENT,
  TerminatePod: TERMINATE_POD_DOCUMENT,
  GpuOffers: GPU_OFFERS_DOCUMENT,
  NetworkVolumes: NETWORK_VOLUMES_DOCUMENT,
});
