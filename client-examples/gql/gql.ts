/* eslint-disable */
import * as types from './graphql';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  query Costs($from: DateTime, $to: DateTime, $first: Int) {\n    costs(from: $from, to: $to) {\n      from\n      to\n      totalUsd\n      activeBurnRateUsdPerHour\n      projectedUsd\n      byGpuType {\n        gpuType\n        gpuHours\n        costUsd\n      }\n      byDay {\n        day\n        costUsd\n      }\n      deploymentCount\n      deployments(first: $first) {\n        costUsd\n        budgetLimitUsd\n        budgetUsedPercent\n        deployment {\n          id\n          status\n          gpuType\n          createdAt\n          trainingConfig {\n            name\n          }\n        }\n      }\n    }\n  }\n": typeof types.CostsDocument,
    "\n  fragment DeploymentFields on Deployment {\n    id\n    status\n    stopReason\n    podId\n    gpuType\n    gpuCount\n    costPerHourUsd\n    budgetLimitUsd\n    actualCostUsd\n    budgetUsedPercent\n    projectedCostUsd\n    errorMessage\n    trainingConfig {\n      name\n      modelName\n    }\n    job {\n      id\n      status\n      artifactUri\n      errorMessage\n      latestMetric {\n        step\n      }\n    }\n  }\n": typeof types.DeploymentFieldsFragmentDoc,
    "\n  query TrainingConfigs {\n    trainingConfigs {\n      id\n      name\n    }\n  }\n": typeof types.TrainingConfigsDocument,
    "\n  mutation Deploy($input: DeployTrainingInput!) {\n    deployTraining(input: $input) {\n      ...DeploymentFields\n    }\n  }\n": typeof types.DeployDocument,
    "\n  query Deployment($id: ID!) {\n    deployment(id: $id) {\n      ...DeploymentFields\n    }\n  }\n": typeof types.DeploymentDocument,
    "\n  subscription Metrics($jobId: ID!, $afterStep: Int) {\n    trainingMetrics(jobId: $jobId, afterStep: $afterStep) {\n      step\n      epoch\n      loss\n      evalLoss\n      progress\n      elapsedSeconds\n      remainingSeconds\n    }\n  }\n": typeof types.MetricsDocument,
    "\n  subscription DeploymentUpdated($id: ID) {\n    deploymentUpdated(id: $id) {\n      ...DeploymentFields\n    }\n  }\n": typeof types.DeploymentUpdatedDocument,
};
const documents: Documents = {
    "\n  query Costs($from: DateTime, $to: DateTime, $first: Int) {\n    costs(from: $from, to: $to) {\n      from\n      to\n      totalUsd\n      activeBurnRateUsdPerHour\n      projectedUsd\n      byGpuType {\n        gpuType\n        gpuHours\n        costUsd\n      }\n      byDay {\n        day\n        costUsd\n      }\n      deploymentCount\n      deployments(first: $first) {\n        costUsd\n        budgetLimitUsd\n        budgetUsedPercent\n        deployment {\n          id\n          status\n          gpuType\n          createdAt\n          trainingConfig {\n            name\n          }\n        }\n      }\n    }\n  }\n": types.CostsDocument,
    "\n  fragment DeploymentFields on Deployment {\n    id\n    status\n    stopReason\n    podId\n    gpuType\n    gpuCount\n    costPerHourUsd\n    budgetLimitUsd\n    actualCostUsd\n    budgetUsedPercent\n    projectedCostUsd\n    errorMessage\n    trainingConfig {\n      name\n      modelName\n    }\n    job {\n      id\n      status\n      artifactUri\n      errorMessage\n      latestMetric {\n        step\n      }\n    }\n  }\n": types.DeploymentFieldsFragmentDoc,
    "\n  query TrainingConfigs {\n    trainingConfigs {\n      id\n      name\n    }\n  }\n": types.TrainingConfigsDocument,
    "\n  mutation Deploy($input: DeployTrainingInput!) {\n    deployTraining(input: $input) {\n      ...DeploymentFields\n    }\n  }\n": types.DeployDocument,
    "\n  query Deployment($id: ID!) {\n    deployment(id: $id) {\n      ...DeploymentFields\n    }\n  }\n": types.DeploymentDocument,
    "\n  subscription Metrics($jobId: ID!, $afterStep: Int) {\n    trainingMetrics(jobId: $jobId, afterStep: $afterStep) {\n      step\n      epoch\n      loss\n      evalLoss\n      progress\n      elapsedSeconds\n      remainingSeconds\n    }\n  }\n": types.MetricsDocument,
    "\n  subscription DeploymentUpdated($id: ID) {\n    deploymentUpdated(id: $id) {\n      ...DeploymentFields\n    }\n  }\n": types.DeploymentUpdatedDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Costs($from: DateTime, $to: DateTime, $first: Int) {\n    costs(from: $from, to: $to) {\n      from\n      to\n      totalUsd\n      activeBurnRateUsdPerHour\n      projectedUsd\n      byGpuType {\n        gpuType\n        gpuHours\n        costUsd\n      }\n      byDay {\n        day\n        costUsd\n      }\n      deploymentCount\n      deployments(first: $first) {\n        costUsd\n        budgetLimitUsd\n        budgetUsedPercent\n        deployment {\n          id\n          status\n          gpuType\n          createdAt\n          trainingConfig {\n            name\n          }\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query Costs($from: DateTime, $to: DateTime, $first: Int) {\n    costs(from: $from, to: $to) {\n      from\n      to\n      totalUsd\n      activeBurnRateUsdPerHour\n      projectedUsd\n      byGpuType {\n        gpuType\n        gpuHours\n        costUsd\n      }\n      byDay {\n        day\n        costUsd\n      }\n      deploymentCount\n      deployments(first: $first) {\n        costUsd\n        budgetLimitUsd\n        budgetUsedPercent\n        deployment {\n          id\n          status\n          gpuType\n          createdAt\n          trainingConfig {\n            name\n          }\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment DeploymentFields on Deployment {\n    id\n    status\n    stopReason\n    podId\n    gpuType\n    gpuCount\n    costPerHourUsd\n    budgetLimitUsd\n    actualCostUsd\n    budgetUsedPercent\n    projectedCostUsd\n    errorMessage\n    trainingConfig {\n      name\n      modelName\n    }\n    job {\n      id\n      status\n      artifactUri\n      errorMessage\n      latestMetric {\n        step\n      }\n    }\n  }\n"): (typeof documents)["\n  fragment DeploymentFields on Deployment {\n    id\n    status\n    stopReason\n    podId\n    gpuType\n    gpuCount\n    costPerHourUsd\n    budgetLimitUsd\n    actualCostUsd\n    budgetUsedPercent\n    projectedCostUsd\n    errorMessage\n    trainingConfig {\n      name\n      modelName\n    }\n    job {\n      id\n      status\n      artifactUri\n      errorMessage\n      latestMetric {\n        step\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query TrainingConfigs {\n    trainingConfigs {\n      id\n      name\n    }\n  }\n"): (typeof documents)["\n  query TrainingConfigs {\n    trainingConfigs {\n      id\n      name\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Deploy($input: DeployTrainingInput!) {\n    deployTraining(input: $input) {\n      ...DeploymentFields\n    }\n  }\n"): (typeof documents)["\n  mutation Deploy($input: DeployTrainingInput!) {\n    deployTraining(input: $input) {\n      ...DeploymentFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Deployment($id: ID!) {\n    deployment(id: $id) {\n      ...DeploymentFields\n    }\n  }\n"): (typeof documents)["\n  query Deployment($id: ID!) {\n    deployment(id: $id) {\n      ...DeploymentFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription Metrics($jobId: ID!, $afterStep: Int) {\n    trainingMetrics(jobId: $jobId, afterStep: $afterStep) {\n      step\n      epoch\n      loss\n      evalLoss\n      progress\n      elapsedSeconds\n      remainingSeconds\n    }\n  }\n"): (typeof documents)["\n  subscription Metrics($jobId: ID!, $afterStep: Int) {\n    trainingMetrics(jobId: $jobId, afterStep: $afterStep) {\n      step\n      epoch\n      loss\n      evalLoss\n      progress\n      elapsedSeconds\n      remainingSeconds\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription DeploymentUpdated($id: ID) {\n    deploymentUpdated(id: $id) {\n      ...DeploymentFields\n    }\n  }\n"): (typeof documents)["\n  subscription DeploymentUpdated($id: ID) {\n    deploymentUpdated(id: $id) {\n      ...DeploymentFields\n    }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;