import { Router } from "express";
import type { Registry } from "prom-client";
import type { DataSource } from "typeorm";
import type { EventBus } from "../pubsub/event-bus";

/** `/healthz` (the process answers), `/readyz` (the database and the pub/sub answer) and `/metrics` (Prometheus). */
export function healthRoutes(deps: { db: DataSource; bus: EventBus; registry: Registry }): Router {
  const router = Router();
  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  router.get("/metrics", async (_req, res) => {
    res.setHeader("content-type", deps.registry.contentType);
    res.send(await deps.registry.metrics());
  });
  router.get("/readyz", async (_req, res) => {
    const [database, pubsub] = await Promise.all([
      deps.db
        .query("SELECT 1")
        .then(() => true)
        .catch(() => false),
      deps.bus.ping(),
    ]);
    res.status(database && pubsub ? 200 : 503).json({
      status: database && pubsub ? "ready" : "not ready",
      database: database ? "ok" : "unreachable",
      pubsub: pubsub ? "ok" : "unreachable",
    });
  });
  return router;
}
