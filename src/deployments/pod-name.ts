/** Pods are named after their deployment, so a pod whose creation answer was lost can be found again. */
export const podName = (deploymentId: string): string => `traingate-${deploymentId}`;

const POD_NAME = /^traingate-([0-9a-f-]{36})$/;

/** The deployment id a pod is named after (not checked to be a UUID), or null for a pod not named like ours. */
export function deploymentIdOfPod(name: string): string | null {
  return POD_NAME.exec(name)?.[1] ?? null;
}

/** Where a pod's page is in RunPod's console. */
export const consoleUrl = (podId: string): string =>
  `https://console.runpod.io/pods?id=${encodeURIComponent(podId)}`;
