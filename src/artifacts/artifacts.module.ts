import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import type { TokenVerifier } from "../auth/jwt";
import type { GatewayModule } from "../composition/gateway-module";
import type { JobAccessCache } from "../metrics/job-access";
import { ArtifactDownloadHandler } from "./artifact-download.handler";
import { createArtifactStore } from "./artifact-store";
import { ArtifactUploadHandler } from "./artifact-upload.handler";
import { ArtifactResolver } from "./artifact.resolver";
import { ArtifactService, type ArtifactOptions } from "./artifact.service";

/** The classes of this module's resolvers (the schema is printed from them). */
export const ARTIFACTS_RESOLVERS = [ArtifactResolver] as const;

export interface ArtifactsModuleDeps {
  db: DataSource;
  logger: Logger;
  mode: "embedded" | "production";
  dataDir: string;
  options: ArtifactOptions;
  /** The pods' job tokens (uploads). */
  jobAccess: JobAccessCache;
  /** Users' tokens (downloads). */
  verifyToken: TokenVerifier;
}

export interface ArtifactsModule extends GatewayModule {
  readonly artifacts: ArtifactService;
}

/** Training results stored at the gateway: the upload and download routes, the resolver, the retention sweep. */
export function createArtifactsModule(deps: ArtifactsModuleDeps): ArtifactsModule {
  const { db, logger } = deps;
  const artifacts = new ArtifactService(
    db,
    createArtifactStore(db, deps.mode, deps.dataDir),
    deps.options,
    logger.child({ component: "artifacts" }),
  );
  const uploads = new ArtifactUploadHandler({
    access: deps.jobAccess,
    artifacts,
    logger: logger.child({ component: "artifact-uploads" }),
  });
  const downloads = new ArtifactDownloadHandler({
    artifacts,
    verifyToken: deps.verifyToken,
    logger: logger.child({ component: "artifact-downloads" }),
  });
  return {
    artifacts,
    resolvers: [new ArtifactResolver(artifacts)],
    // Artifact bodies stream, so no body parser may touch them: they are served before Express.
    routes: [(req, res) => uploads.handle(req, res), (req, res) => downloads.handle(req, res)],
    background: [{ name: "artifact-retention", intervalMs: 3_600_000, run: () => artifacts.sweep() }],
  };
}
