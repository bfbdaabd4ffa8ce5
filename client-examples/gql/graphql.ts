/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
/** which RunPod cloud a pod runs in */
export type CloudType =
  /** RunPod's Community Cloud */
  | 'COMMUNITY'
  /** RunPod's Secure Cloud */
  | 'SECURE';

/** STOP frees the GPU and keeps the pod's disk for download (storage is still billed) */
export type CompletionAction =
  /** stop the pod and keep its disk (still billed) */
  | 'STOP'
  /** delete the pod and its disk */
  | 'TERMINATE';

/** what deployTraining runs, on what, and within which budget */
export type DeployTrainingInput = {
  /** > 0; hard cap: the pod is terminated when reached */
  budgetLimitUsd?: number | null | undefined;
  /** which RunPod cloud to rent from */
  cloudType?: CloudType | null | undefined;
  /** container disk, GB, 5..2000 */
  containerDiskGb?: number | null | undefined;
  /** default from config */
  dockerImage?: string | null | undefined;
  /** names [A-Z_][A-Z0-9_]*; reserved names (JOB_ID, JOB_TOKEN, ...) refused */
  env?: Array<EnvVarInput> | null | undefined;
  /** tried in order when the first has no capacity */
  fallbackGpuTypes?: Array<GpuType> | null | undefined;
  /** 1..8 */
  gpuCount?: number | null | undefined;
  /** the GPU type to try first */
  gpuType?: GpuType | null | undefined;
  /** what to do on training-health alerts, besides alerting (defaults: stop on NaN, stop after 30 minutes stalled) */
  health?: HealthActionsInput | null | undefined;
  /** same key + same caller: the same deployment comes back, no second pod */
  idempotencyKey?: string | null | undefined;
  /** terminate after this much running time */
  maxDurationMinutes?: number | null | undefined;
  /** refuse offers above this price */
  maxPricePerHourUsd?: number | null | undefined;
  /** where the trained adapter goes */
  output?: OutputInput | null | undefined;
  /** the saved config to train with */
  trainingConfigId: string | number;
  /** pod volume at /workspace, GB, 1..4000 */
  volumeSizeGb?: number | null | undefined;
  /** 0..1440; > 0: with no capacity (or RunPod briefly down), stay QUEUED and retry until then; 0: GPU_UNAVAILABLE at once */
  waitForCapacityMinutes?: number | null | undefined;
};

/** where a deployment is in its lifecycle */
export type DeploymentStatus =
  /** training finished and the result was delivered */
  | 'COMPLETED'
  /** asking the provider for a pod */
  | 'CREATING'
  /** the pod or the training failed; see errorMessage */
  | 'FAILED'
  /** waiting for capacity (waitForCapacityMinutes): no pod and no cost yet; retried until queuedUntil */
  | 'QUEUED'
  /** the pod is running the training */
  | 'RUNNING'
  /** the pod exists and is booting */
  | 'STARTING'
  /** stopped before completing; see stopReason */
  | 'STOPPED';

/** an environment variable for the pod */
export type EnvVarInput = {
  /** the variable's name, [A-Z_][A-Z0-9_]*, at most 128 characters */
  name: string;
  /** the variable's value, at most 32768 characters */
  value: string;
};

/** Our GPU names; each maps to RunPod's exact gpuTypeId (see the gpuTypes query) */
export type GpuType =
  /** NVIDIA A40, 48 GB */
  | 'A40'
  /** NVIDIA A100 PCIe, 80 GB */
  | 'A100_PCIE_80GB'
  /** NVIDIA A100 SXM, 80 GB */
  | 'A100_SXM_80GB'
  /** NVIDIA B200, 180 GB */
  | 'B200'
  /** NVIDIA H100 NVL, 94 GB */
  | 'H100_NVL'
  /** NVIDIA H100 PCIe, 80 GB */
  | 'H100_PCIE'
  /** NVIDIA H100 SXM, 80 GB */
  | 'H100_SXM'
  /** NVIDIA H200, 141 GB */
  | 'H200'
  /** NVIDIA L4, 24 GB */
  | 'L4'
  /** NVIDIA L40, 48 GB */
  | 'L40'
  /** NVIDIA L40S, 48 GB */
  | 'L40S'
  /** NVIDIA GeForce RTX 3090, 24 GB */
  | 'RTX_3090'
  /** NVIDIA RTX 4000 Ada, 20 GB */
  | 'RTX_4000_ADA'
  /** NVIDIA GeForce RTX 4090, 24 GB */
  | 'RTX_4090'
  /** NVIDIA GeForce RTX 5090, 32 GB */
  | 'RTX_5090'
  /** NVIDIA RTX 6000 Ada, 48 GB */
  | 'RTX_6000_ADA'
  /** NVIDIA RTX A4000, 16 GB */
  | 'RTX_A4000'
  /** NVIDIA RTX A4500, 20 GB */
  | 'RTX_A4500'
  /** NVIDIA RTX A5000, 24 GB */
  | 'RTX_A5000'
  /** NVIDIA RTX A6000, 48 GB */
  | 'RTX_A6000';

/** what the gateway does, besides alerting, when a run looks unhealthy */
export type HealthActionsInput = {
  /** stop a RUNNING pod that posted no metric for this many minutes, 0..1440; 0: never (STALLED is still raised) */
  stopAfterStallMinutes?: number | null | undefined;
  /** stop the run (the trainer checkpoints and exits) when its loss is NaN or infinite */
  stopOnNaN?: boolean | null | undefined;
};

/** where a training job is in its lifecycle */
export type JobStatus =
  /** stopped before it finished */
  | 'CANCELLED'
  /** training finished */
  | 'COMPLETED'
  /** training failed; see errorMessage */
  | 'FAILED'
  /** waiting for its pod to start training */
  | 'PENDING'
  /** training */
  | 'RUNNING';

/** where a training run's result goes and what happens to the pod after */
export type OutputInput = {
  /** upload the result to the gateway (TrainingJob.artifact); default: true when neither hubRepoId nor networkVolumeId is given, so a result is never stranded; false with neither of them is refused unless onComplete is STOP (the result then stays on the stopped pod's disk) */
  gateway?: boolean | null | undefined;
  /** create the Hugging Face repo as private */
  hubPrivate?: boolean | null | undefined;
  /** push the adapter to this Hugging Face repo with the caller's HUGGINGFACE key */
  hubRepoId?: string | null | undefined;
  /** mount this RunPod network volume at /workspace: checkpoints and output survive the pod */
  networkVolumeId?: string | null | undefined;
  /** after the result is delivered and verified; STOP (keep the pod's disk, still billed) only on request */
  onComplete?: CompletionAction | null | undefined;
};

/** why a deployment stopped */
export type StopReason =
  /** its cost reached budgetLimitUsd */
  | 'BUDGET_EXCEEDED'
  /** training finished */
  | 'COMPLETED'
  /** the pod or the training failed */
  | 'FAILED'
  /** it ran for maxDurationMinutes */
  | 'MAX_DURATION'
  /** the gateway found its pod unowned (creation interrupted, or still up after the run) and terminated it */
  | 'ORPHANED'
  /** the caller stopped it (stopDeployment) */
  | 'USER';

export type CostsQueryVariables = Exact<{
  from?: string | null | undefined;
  to?: string | null | undefined;
  first?: number | null | undefined;
}>;


export type CostsQuery = { costs: { from: string, to: string, totalUsd: number, activeBurnRateUsdPerHour: number, projectedUsd: number, deploymentCount: number, byGpuType: Array<{ gpuType: GpuType, gpuHours: number, costUsd: number }>, byDay: Array<{ day: string, costUsd: number }>, deployments: Array<{ costUsd: number, budgetLimitUsd: number, budgetUsedPercent: number, deployment: { id: string, status: DeploymentStatus, gpuType: GpuType, createdAt: string, trainingConfig: { name: string } } }> } };

export type DeploymentFieldsFragment = { id: string, status: DeploymentStatus, stopReason: StopReason | null, podId: string | null, gpuType: GpuType, gpuCount: number, costPerHourUsd: number | null, budgetLimitUsd: number, actualCostUsd: number, budgetUsedPercent: number, projectedCostUsd: number | null, errorMessage: string | null, trainingConfig: { name: string, modelName: string }, job: { id: string, status: JobStatus, artifactUri: string | null, errorMessage: string | null, latestMetric: { step: number } | null } };

export type TrainingConfigsQueryVariables = Exact<{ [key: string]: never; }>;


export type TrainingConfigsQuery = { trainingConfigs: Array<{ id: string, name: string }> };

export type DeployMutationVariables = Exact<{
  input: DeployTrainingInput;
}>;


export type DeployMutation = { deployTraining: { id: string, status: DeploymentStatus, stopReason: StopReason | null, podId: string | null, gpuType: GpuType, gpuCount: number, costPerHourUsd: number | null, budgetLimitUsd: number, actualCostUsd: number, budgetUsedPercent: number, projectedCostUsd: number | null, errorMessage: string | null, trainingConfig: { name: string, modelName: string }, job: { id: string, status: JobStatus, artifactUri: string | null, errorMessage: string | null, latestMetric: { step: number } | null } } };

export type DeploymentQueryVariables = Exact<{
  id: string | number;
}>;


export type DeploymentQuery = { deployment: { id: string, status: DeploymentStatus, stopReason: StopReason | null, podId: string | null, gpuType: GpuType, gpuCount: number, costPerHourUsd: number | null, budgetLimitUsd: number, actualCostUsd: number, budgetUsedPercent: number, projectedCostUsd: number | null, errorMessage: string | null, trainingConfig: { name: string, modelName: string }, job: { id: string, status: JobStatus, artifactUri: string | null, errorMessage: string | null, latestMetric: { step: number } | null } } | null };

export type MetricsSubscriptionVariables = Exact<{
  jobId: string | number;
  afterStep?: number | null | undefined;
}>;


export type MetricsSubscription = { trainingMetrics: { step: number, epoch: number | null, loss: number | null, evalLoss: number | null, progress: number | null, elapsedSeconds: number | null, remainingSeconds: number | null } };

export type DeploymentUpdatedSubscriptionVariables = Exact<{
  id?: string | number | null | undefined;
}>;


export type DeploymentUpdatedSubscription = { deploymentUpdated: { id: string, status: DeploymentStatus, stopReason: StopReason | null, podId: string | null, gpuType: GpuType, gpuCount: number, costPerHourUsd: number | null, budgetLimitUsd: number, actualCostUsd: number, budgetUsedPercent: number, projectedCostUsd: number | null, errorMessage: string | null, trainingConfig: { name: string, modelName: string }, job: { id: string, status: JobStatus, artifactUri: string | null, errorMessage: string | null, latestMetric: { step: number } | null } } };

export const DeploymentFieldsFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"DeploymentFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Deployment"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"stopReason"}},{"kind":"Field","name":{"kind":"Name","value":"podId"}},{"kind":"Field","name":{"kind":"Name","value":"gpuType"}},{"kind":"Field","name":{"kind":"Name","value":"gpuCount"}},{"kind":"Field","name":{"kind":"Name","value":"costPerHourUsd"}},{"kind":"Field","name":{"kind":"Name","value":"budgetLimitUsd"}},{"kind":"Field","name":{"kind":"Name","value":"actualCostUsd"}},{"kind":"Field","name":{"kind":"Name","value":"budgetUsedPercent"}},{"kind":"Field","name":{"kind":"Name","value":"projectedCostUsd"}},{"kind":"Field","name":{"kind":"Name","value":"errorMessage"}},{"kind":"Field","name":{"kind":"Name","value":"trainingConfig"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"modelName"}}]}},{"kind":"Field","name":{"kind":"Name","value":"job"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"artifactUri"}},{"kind":"Field","name":{"kind":"Name","value":"errorMessage"}},{"kind":"Field","name":{"kind":"Name","value":"latestMetric"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"step"}}]}}]}}]}}]} as unknown as DocumentNode<DeploymentFieldsFragment, unknown>;
export const CostsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Costs"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"from"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"DateTime"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"to"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"DateTime"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"costs"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"from"},"value":{"kind":"Variable","name":{"kind":"Name","value":"from"}}},{"kind":"Argument","name":{"kind":"Name","value":"to"},"value":{"kind":"Variable","name":{"kind":"Name","value":"to"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"from"}},{"kind":"Field","name":{"kind":"Name","value":"to"}},{"kind":"Field","name":{"kind":"Name","value":"totalUsd"}},{"kind":"Field","name":{"kind":"Name","value":"activeBurnRateUsdPerHour"}},{"kind":"Field","name":{"kind":"Name","value":"projectedUsd"}},{"kind":"Field","name":{"kind":"Name","value":"byGpuType"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"gpuType"}},{"kind":"Field","name":{"kind":"Name","value":"gpuHours"}},{"kind":"Field","name":{"kind":"Name","value":"costUsd"}}]}},{"kind":"Field","name":{"kind":"Name","value":"byDay"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"day"}},{"kind":"Field","name":{"kind":"Name","value":"costUsd"}}]}},{"kind":"Field","name":{"kind":"Name","value":"deploymentCount"}},{"kind":"Field","name":{"kind":"Name","value":"deployments"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"costUsd"}},{"kind":"Field","name":{"kind":"Name","value":"budgetLimitUsd"}},{"kind":"Field","name":{"kind":"Name","value":"budgetUsedPercent"}},{"kind":"Field","name":{"kind":"Name","value":"deployment"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"gpuType"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"trainingConfig"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"name"}}]}}]}}]}}]}}]}}]} as unknown as DocumentNode<CostsQuery, CostsQueryVariables>;
export const TrainingConfigsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"TrainingConfigs"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"trainingConfigs"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}}]}}]}}]} as unknown as DocumentNode<TrainingConfigsQuery, TrainingConfigsQueryVariables>;
export const DeployDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"Deploy"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"DeployTrainingInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"deployTraining"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"DeploymentFields"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"DeploymentFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Deployment"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"stopReason"}},{"kind":"Field","name":{"kind":"Name","value":"podId"}},{"kind":"Field","name":{"kind":"Name","value":"gpuType"}},{"kind":"Field","name":{"kind":"Name","value":"gpuCount"}},{"kind":"Field","name":{"kind":"Name","value":"costPerHourUsd"}},{"kind":"Field","name":{"kind":"Name","value":"budgetLimitUsd"}},{"kind":"Field","name":{"kind":"Name","value":"actualCostUsd"}},{"kind":"Field","name":{"kind":"Name","value":"budgetUsedPercent"}},{"kind":"Field","name":{"kind":"Name","value":"projectedCostUsd"}},{"kind":"Field","name":{"kind":"Name","value":"errorMessage"}},{"kind":"Field","name":{"kind":"Name","value":"trainingConfig"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"modelName"}}]}},{"kind":"Field","name":{"kind":"Name","value":"job"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"artifactUri"}},{"kind":"Field","name":{"kind":"Name","value":"errorMessage"}},{"kind":"Field","name":{"kind":"Name","value":"latestMetric"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"step"}}]}}]}}]}}]} as unknown as DocumentNode<DeployMutation, DeployMutationVariables>;
export const DeploymentDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Deployment"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"deployment"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"DeploymentFields"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"DeploymentFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Deployment"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"stopReason"}},{"kind":"Field","name":{"kind":"Name","value":"podId"}},{"kind":"Field","name":{"kind":"Name","value":"gpuType"}},{"kind":"Field","name":{"kind":"Name","value":"gpuCount"}},{"kind":"Field","name":{"kind":"Name","value":"costPerHourUsd"}},{"kind":"Field","name":{"kind":"Name","value":"budgetLimitUsd"}},{"kind":"Field","name":{"kind":"Name","value":"actualCostUsd"}},{"kind":"Field","name":{"kind":"Name","value":"budgetUsedPercent"}},{"kind":"Field","name":{"kind":"Name","value":"projectedCostUsd"}},{"kind":"Field","name":{"kind":"Name","value":"errorMessage"}},{"kind":"Field","name":{"kind":"Name","value":"trainingConfig"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"modelName"}}]}},{"kind":"Field","name":{"kind":"Name","value":"job"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"artifactUri"}},{"kind":"Field","name":{"kind":"Name","value":"errorMessage"}},{"kind":"Field","name":{"kind":"Name","value":"latestMetric"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"step"}}]}}]}}]}}]} as unknown as DocumentNode<DeploymentQuery, DeploymentQueryVariables>;
export const MetricsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"Metrics"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"jobId"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"afterStep"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"trainingMetrics"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"jobId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"jobId"}}},{"kind":"Argument","name":{"kind":"Name","value":"afterStep"},"value":{"kind":"Variable","name":{"kind":"Name","value":"afterStep"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"step"}},{"kind":"Field","name":{"kind":"Name","value":"epoch"}},{"kind":"Field","name":{"kind":"Name","value":"loss"}},{"kind":"Field","name":{"kind":"Name","value":"evalLoss"}},{"kind":"Field","name":{"kind":"Name","value":"progress"}},{"kind":"Field","name":{"kind":"Name","value":"elapsedSeconds"}},{"kind":"Field","name":{"kind":"Name","value":"remainingSeconds"}}]}}]}}]} as unknown as DocumentNode<MetricsSubscription, MetricsSubscriptionVariables>;
export const DeploymentUpdatedDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"DeploymentUpdated"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"deploymentUpdated"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"DeploymentFields"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"DeploymentFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Deployment"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"stopReason"}},{"kind":"Field","name":{"kind":"Name","value":"podId"}},{"kind":"Field","name":{"kind":"Name","value":"gpuType"}},{"kind":"Field","name":{"kind":"Name","value":"gpuCount"}},{"kind":"Field","name":{"kind":"Name","value":"costPerHourUsd"}},{"kind":"Field","name":{"kind":"Name","value":"budgetLimitUsd"}},{"kind":"Field","name":{"kind":"Name","value":"actualCostUsd"}},{"kind":"Field","name":{"kind":"Name","value":"budgetUsedPercent"}},{"kind":"Field","name":{"kind":"Name","value":"projectedCostUsd"}},{"kind":"Field","name":{"kind":"Name","value":"errorMessage"}},{"kind":"Field","name":{"kind":"Name","value":"trainingConfig"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"modelName"}}]}},{"kind":"Field","name":{"kind":"Name","value":"job"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"artifactUri"}},{"kind":"Field","name":{"kind":"Name","value":"errorMessage"}},{"kind":"Field","name":{"kind":"Name","value":"latestMetric"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"step"}}]}}]}}]}}]} as unknown as DocumentNode<DeploymentUpdatedSubscription, DeploymentUpdatedSubscriptionVariables>;