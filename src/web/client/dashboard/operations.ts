/**
 * Every GraphQL document the dashboard sends, with the shapes of their results. A spec
 * (src/web/operations.spec.ts) validates each document against schema/schema.graphql and the gateway's
 * query limits, so a renamed field fails a test rather than a page.
 */

import { METRIC_FIELDS, type MetricValues } from "../../../metrics/metric-fields";

export const GPU_TYPES = [
  "RTX_A4000",
  "RTX_A4500",
  "RTX_A5000",
  "RTX_A6000",
  "A40",
  "L4",
  "L40",
  "L40S",
  "RTX_4000_ADA",
  "RTX_6000_ADA",
  "RTX_3090",
  "RTX_4090",
  "RTX_5090",
  "A100_PCIE_80GB",
  "A100_SXM_80GB",
  "H100_PCIE",
  "H100_SXM",
  "H100_NVL",
  "H200",
  "B200",
] as const;
export type GpuType = (typeof GPU_TYPES)[number];

export type DeploymentStatus =
  "QUEUED" | "CREATING" | "STARTING" | "RUNNING" | "COMPLETED" | "FAILED" | "STOPPED";
export type JobStatus = "PENDING" | "RUNNING" | "COMPLETED" | "FAILED" | "CANCELLED";
export type StopReason = "USER" | "BUDGET_EXCEEDED" | "MAX_DURATION" | "COMPLETED" | "FAILED" | "ORPHANED";
export type CloudType = "SECURE" | "COMMUNITY";
export type BudgetAction = "NOTIFIED" | "STOPPING" | "STOPPED";

/** Deployments that still hold (or are about to hold) a GPU: the ones a user can stop. */
export const ACTIVE_STATUSES: readonly DeploymentStatus[] = ["QUEUED", "CREATING", "STARTING", "RUNNING"];

const METRIC_FRAGMENT = /* GraphQL */ `
  fragment MetricFields on TrainingMetric {
    jobId
    step
    ${METRIC_FIELDS.map((field) => field.property).join("\n    ")}
    timestamp
  }
`;

const DEPLOYMENT_FIELDS = /* GraphQL */ `
  fragment DeploymentFields on Deployment {
    id
    status
    stopReason
    podId
    consoleUrl
    gpuType
    gpuCount
    cloudType
    costPerHourUsd
    budgetLimitUsd
    actualCostUsd
    budgetUsedPercent
    projectedCostUsd
    uptimeSeconds
    errorMessage
    createdAt
    startedAt
    completedAt
    updatedAt
    trainingConfig {
      id
      name
      modelName
      method
    }
    job {
      id
      status
      progress
      artifactUri
      errorMessage
      latestMetric {
        ...MetricFields
      }
    }
  }
  ${METRIC_FRAGMENT}
`;

/** A point of a training curve, as the subscription and `metrics` answer it. */
export type Metric = { jobId: string; step: number; timestamp: string } & MetricValues;

export interface Deployment {
  id: string;
  status: DeploymentStatus;
  stopReason: StopReason | null;
  podId: string | null;
  consoleUrl: string | null;
  gpuType: GpuType;
  gpuCount: number;
  cloudType: CloudType;
  costPerHourUsd: number | null;
  budgetLimitUsd: number;
  actualCostUsd: number;
  budgetUsedPercent: number;
  projectedCostUsd: number | null;
  uptimeSeconds: number;
  errorMessage: string | null;
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
  updatedAt: string;
  trainingConfig: { id: string; name: string; modelName: string; method: string };
  job: {
    id: string;
    status: JobStatus;
    progress: number | null;
    artifactUri: string | null;
    errorMessage: string | null;
    latestMetric: Metric | null;
  };
}

export const ME = /* GraphQL */ `
  query Me {
    me {
      id
    }
  }
`;
export interface MeResult {
  me: { id: string };
}

export const DEPLOYMENTS = /* GraphQL */ `
  query Deployments($first: Int!, $after: String) {
    deployments(first: $first, after: $after) {
      pageInfo {
        hasNextPage
        endCursor
      }
      edges {
        node {
          ...DeploymentFields
        }
      }
    }
  }
  ${DEPLOYMENT_FIELDS}
`;
export interface DeploymentsResult {
  deployments: {
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
    edges: { node: Deployment }[];
  };
}

export const DEPLOYMENT = /* GraphQL */ `
  query Deployment($id: ID!) {
    deployment(id: $id) {
      ...DeploymentFields
    }
  }
  ${DEPLOYMENT_FIELDS}
`;
export interface DeploymentResult {
  deployment: Deployment | null;
}

export const TRAINING_CONFIGS = /* GraphQL */ `
  query TrainingConfigs {
    trainingConfigs {
      id
      name
      modelName
      method
    }
  }
`;
export interface TrainingConfigsResult {
  trainingConfigs: { id: string; name: string; modelName: string; method: string }[];
}

export const GPU_OFFERS = /* GraphQL */ `
  query GpuOffers($cloudType: CloudType) {
    gpuTypes(cloudType: $cloudType) {
      gpuType
      displayName
      memoryGb
      pricePerHourUsd
      available
    }
  }
`;
export interface GpuOffersResult {
  gpuTypes: {
    gpuType: GpuType;
    displayName: string;
    memoryGb: number;
    pricePerHourUsd: number | null;
    available: boolean;
  }[];
}

export const DEPLOY_TRAINING = /* GraphQL */ `
  mutation DeployTraining($input: DeployTrainingInput!) {
    deployTraining(input: $input) {
      ...DeploymentFields
    }
  }
  ${DEPLOYMENT_FIELDS}
`;
export interface DeployTrainingInput {
  trainingConfigId: string;
  gpuType: GpuType;
  fallbackGpuTypes: GpuType[];
  gpuCount: number;
  cloudType: CloudType;
  budgetLimitUsd: number;
  maxPricePerHourUsd?: number;
  maxDurationMinutes?: number;
  idempotencyKey: string;
}
export interface DeployTrainingResult {
  deployTraining: Deployment;
}

export const STOP_DEPLOYMENT = /* GraphQL */ `
  mutation StopDeployment($id: ID!) {
    stopDeployment(id: $id) {
      ...DeploymentFields
    }
  }
  ${DEPLOYMENT_FIELDS}
`;
export interface StopDeploymentResult {
  stopDeployment: Deployment;
}

export const DEPLOYMENT_UPDATED = /* GraphQL */ `
  subscription DeploymentUpdated($id: ID) {
    deploymentUpdated(id: $id) {
      ...DeploymentFields
    }
  }
  ${DEPLOYMENT_FIELDS}
`;
export interface DeploymentUpdatedResult {
  deploymentUpdated: Deployment;
}

/** A job's result stored at the gateway; `downloadUrl` is a signed link valid for a few minutes. */
export const JOB_ARTIFACT = /* GraphQL */ `
  query JobArtifact($id: ID!) {
    trainingJob(id: $id) {
      id
      artifact {
        uri
        sizeBytes
        sha256
        createdAt
        downloadUrl
        files {
          name
          sizeBytes
        }
      }
    }
  }
`;
export interface JobArtifact {
  uri: string;
  sizeBytes: number;
  sha256: string;
  createdAt: string;
  downloadUrl: string;
  files: { name: string; sizeBytes: number }[];
}
export interface JobArtifactResult {
  trainingJob: { id: string; artifact: JobArtifact | null } | null;
}

export const TRAINING_METRICS = /* GraphQL */ `
  subscription TrainingMetrics($jobId: ID!, $afterStep: Int) {
    trainingMetrics(jobId: $jobId, afterStep: $afterStep) {
      ...MetricFields
    }
  }
  ${METRIC_FRAGMENT}
`;
export interface TrainingMetricsResult {
  trainingMetrics: Metric;
}

export const BUDGET_ALERTS = /* GraphQL */ `
  subscription BudgetAlerts {
    budgetAlerts {
      thresholdPercent
      actualCostUsd
      budgetLimitUsd
      action
      at
      deployment {
        id
        status
        trainingConfig {
          name
        }
      }
    }
  }
`;
export interface BudgetAlert {
  thresholdPercent: number;
  actualCostUsd: number;
  budgetLimitUsd: number;
  action: BudgetAction;
  at: string;
  deployment: { id: string; status: DeploymentStatus; trainingConfig: { name: string } };
}
export interface BudgetAlertsResult {
  budgetAlerts: BudgetAlert;
}

export type TrainingAlertKind = "LOSS_NAN" | "LOSS_SPIKE" | "STALLED" | "GPU_MEMORY_HIGH" | "OUT_OF_MEMORY";

/** One deployment's training-health alerts as they are raised (the schema has no query for past ones). */
export const TRAINING_ALERTS = /* GraphQL */ `
  subscription TrainingAlerts($deploymentId: ID) {
    trainingAlerts(deploymentId: $deploymentId) {
      kind
      step
      message
      action
      at
    }
  }
`;
export interface TrainingAlert {
  kind: TrainingAlertKind;
  step: number | null;
  message: string;
  /** STOPPING: a health action stops the run; null: the run already ended (out of memory). */
  action: BudgetAction | null;
  at: string;
}
export interface TrainingAlertsResult {
  trainingAlerts: TrainingAlert;
}

export const WEBHOOK_EVENTS = [
  "DEPLOYMENT_CREATED",
  "DEPLOYMENT_RUNNING",
  "DEPLOYMENT_COMPLETED",
  "DEPLOYMENT_FAILED",
  "DEPLOYMENT_STOPPED",
  "BUDGET_ALERT",
  "TRAINING_ALERT",
  "ARTIFACT_READY",
  "WEBHOOK_DISABLED",
] as const;
/** What a webhook can subscribe to, plus WEBHOOK_TEST (sent by testWebhook only). */
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number] | "WEBHOOK_TEST";
export const WEBHOOK_FORMATS = ["JSON", "SLACK", "DISCORD"] as const;
export type WebhookFormat = (typeof WEBHOOK_FORMATS)[number];

const WEBHOOK_FIELDS = /* GraphQL */ `
  fragment WebhookFields on Webhook {
    id
    url
    events
    format
    description
    enabled
    lastDeliveryAt
    createdAt
  }
`;
export interface Webhook {
  id: string;
  url: string;
  events: WebhookEvent[];
  format: WebhookFormat;
  description: string | null;
  enabled: boolean;
  lastDeliveryAt: string | null;
  createdAt: string;
}

const DELIVERY_FIELDS = /* GraphQL */ `
  fragment DeliveryFields on WebhookDelivery {
    id
    event
    attempt
    statusCode
    latencyMs
    error
    responseExcerpt
    deliveredAt
    nextAttemptAt
    createdAt
  }
`;
export interface WebhookDelivery {
  id: string;
  event: WebhookEvent;
  attempt: number;
  statusCode: number | null;
  latencyMs: number | null;
  error: string | null;
  responseExcerpt: string | null;
  deliveredAt: string | null;
  nextAttemptAt: string | null;
  createdAt: string;
}

export const WEBHOOKS = /* GraphQL */ `
  query Webhooks {
    webhooks {
      ...WebhookFields
    }
  }
  ${WEBHOOK_FIELDS}
`;
export interface WebhooksResult {
  webhooks: Webhook[];
}

/** A page of a webhook's delivery log, newest first; "older" passes the page's endCursor as `after`. */
export const WEBHOOK_DELIVERIES = /* GraphQL */ `
  query WebhookDeliveries($webhookId: ID!, $first: Int!, $after: String) {
    webhookDeliveries(webhookId: $webhookId, first: $first, after: $after) {
      pageInfo {
        hasNextPage
        endCursor
      }
      edges {
        node {
          ...DeliveryFields
        }
      }
    }
  }
  ${DELIVERY_FIELDS}
`;
export interface WebhookDeliveriesResult {
  webhookDeliveries: {
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
    edges: { node: WebhookDelivery }[];
  };
}

export const CREATE_WEBHOOK = /* GraphQL */ `
  mutation CreateWebhook($input: WebhookInput!) {
    createWebhook(input: $input) {
      webhook {
        ...WebhookFields
      }
      signingSecret
    }
  }
  ${WEBHOOK_FIELDS}
`;
export interface WebhookInput {
  url: string;
  events: WebhookEvent[];
  format: WebhookFormat;
  description?: string;
}
export interface CreateWebhookResult {
  createWebhook: { webhook: Webhook; signingSecret: string };
}

export const TEST_WEBHOOK = /* GraphQL */ `
  mutation TestWebhook($id: ID!) {
    testWebhook(id: $id) {
      ...DeliveryFields
    }
  }
  ${DELIVERY_FIELDS}
`;
export interface TestWebhookResult {
  testWebhook: WebhookDelivery;
}

export const DELETE_WEBHOOK = /* GraphQL */ `
  mutation DeleteWebhook($id: ID!) {
    deleteWebhook(id: $id)
  }
`;
export interface DeleteWebhookResult {
  deleteWebhook: boolean;
}
