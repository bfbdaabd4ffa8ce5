import { StopReason } from "../src/deployments/deployment.enums";
import { deploymentTopics as topics } from "../src/deployments/deployment-stream";
import { freshDatabase, usingPostgres, usingRedis } from "./support/database";
import { newDeployment, type DeploymentRows } from "./support/factories";
import { startTestGateway, type TestGateway } from "./support/gateway";
import { startSimulatedGateway, type SimulatedSetup } from "./support/simulated";

let s: SimulatedSetup;
beforeAll(async () => {
  s = await startSimulatedGateway();
});
afterAll(() => s.close());

async function post(url: string, jobId: string, jobToken: string, step: number) {
  const res = await fetch(`${url}/api/training/jobs/${jobId}/metrics`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${jobToken}` },
    body: JSON.stringify({ step, loss: 1 }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("the stop flag a pod's next post sees", () => {
  it("is set at once after a budget stop on the same replica", async () => {
    const rows = await newDeployment(s.t.gateway.db.dataSource, "flag-budget");
    // The job's state is now cached by the callback routes.
    expect(await post(s.t.url, rows.job.id, rows.jobToken, 1)).toMatchObject({ body: { stop: false } });
    await s.t.gateway.services.deployments.requestStop(rows.deployment.id, StopReason.BUDGET_EXCEEDED);
    expect(await post(s.t.url, rows.job.id, rows.jobToken, 2)).toMatchObject({
      status: 200,
      body: { stop: true },
    });
  });

  it("ends the job at once after stopDeployment: the next post hears that the job is finished", async () => {
    await s.withRunpodKey("flag-user");
    const configId = await s.newConfig("flag-user");
    s.sim.clearRequests();
    const deployed = await s.t.gql<{ deployTraining: { id: string; job: { id: string } } }>(
      "flag-user",
      `mutation($input: DeployTrainingInput!) { deployTraining(input: $input) { id job { id } } }`,
      { input: { trainingConfigId: configId } },
    );
    const create = s.sim.requests.find((r) => r.fields.includes("podFindAndDeployOnDemand"));
    const env = (create!.variables as { input: { env: { key: string; value: string }[] } }).input.env;
    const jobToken = env.find((e) => e.key === "JOB_TOKEN")!.value;
    const { id, job } = deployed.data!.deployTraining;
    expect(await post(s.t.url, job.id, jobToken, 1)).toMatchObject({ body: { stop: false } });
    const stopped = await s.t.gql("flag-user", `mutation($id: ID!) { stopDeployment(id: $id) { status } }`, {
      id,
    });
    expect(stopped.errors).toBeUndefined();
    expect(await post(s.t.url, job.id, jobToken, 2)).toEqual({
      status: 409,
      body: { error: "job is finished" },
    });
  });
});

describe("across replicas", () => {
  it(
    usingPostgres() && usingRedis()
      ? "a stop made on replica A drops replica B's cached answer"
      : "a stop drops the cached answer (embedded mode has one replica)",
    async () => {
      const shared = usingPostgres() ? await freshDatabase() : undefined;
      const a: TestGateway = shared ? await startTestGateway({ database: shared }) : s.t;
      const b: TestGateway = shared ? await startTestGateway({ database: shared }) : s.t;
      try {
        const rows: DeploymentRows = await newDeployment(a.gateway.db.dataSource, "flag-replicas");
        expect(await post(b.url, rows.job.id, rows.jobToken, 1)).toMatchObject({ body: { stop: false } });
        // B's own invalidation listener was registered at start-up, before this one: once this one hears the
        // change, B has dropped its entry.
        let heard!: () => void;
        const changed = new Promise<void>((resolve) => (heard = resolve));
        const unlisten = await b.gateway.bus.listen(topics.jobAccessChanged, ({ jobId }) => {
          if (jobId === rows.job.id) heard();
        });
        await a.gateway.services.deployments.requestStop(rows.deployment.id, StopReason.USER);
        await changed;
        await unlisten();
        expect(await post(b.url, rows.job.id, rows.jobToken, 2)).toMatchObject({ body: { stop: true } });
      } finally {
        if (shared) {
          await a.close();
          await b.close();
          await shared.drop();
        }
      }
    },
  );
});
