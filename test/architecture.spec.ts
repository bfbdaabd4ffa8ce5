import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

// The never-rules of ARCHITECTURE.md, checked on every relative import under src/. A rule broken by a new
// import fails here with the file and the import that broke it.

const SRC = path.resolve(__dirname, "../src");

interface Import {
  /** The importing file, relative to src/ (e.g. `server/app.ts`). */
  file: string;
  /** What it imports, resolved and relative to src/ (e.g. `runpod-sim/runpod-simulator`, `../test/support/x`). */
  target: string;
  typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return /\.tsx?$/.test(name) ? [full] : [];
  });
}

const IMPORTS: Import[] = sourceFiles(SRC).flatMap((full) => {
  const text = readFileSync(full, "utf8");
  const file = path.relative(SRC, full);
  return [...text.matchAll(/^(?:import|export)\s+(type\s+)?(?:[^;]*?\s+from\s+)?"(\.{1,2}\/[^"]+)"/gms)].map(
    ([, type, specifier]) => ({
      file,
      target: path.relative(SRC, path.resolve(path.dirname(full), specifier)),
      typeOnly: type !== undefined,
    }),
  );
});

const folder = (relative: string) => relative.split(path.sep)[0];
const isSpec = (file: string) => /\.spec\.tsx?$/.test(file);
const isTestSupport = (file: string) => file.split(path.sep).includes("testing");
const describeImport = ({ file, target }: Import) => `${file} imports ${target}`;

/** Imports of production code (specs and `testing/` helpers are test code that lives beside it). */
const PRODUCTION = IMPORTS.filter(({ file }) => !isSpec(file) && !isTestSupport(file));

describe("the import rules of ARCHITECTURE.md", () => {
  it("finds the imports it checks", () => {
    expect(PRODUCTION.length).toBeGreaterThan(300);
    expect(PRODUCTION).toContainEqual(
      expect.objectContaining({
        file: path.join("server", "app.ts"),
        target: path.join("server", "websocket"),
      }),
    );
  });

  it("production code never imports test code (test/ or a testing/ folder)", () => {
    const broken = PRODUCTION.filter(
      ({ target }) => target.startsWith(`..${path.sep}test`) || target.split(path.sep).includes("testing"),
    );
    expect(broken.map(describeImport)).toEqual([]);
  });

  it("only the entry points (start.ts, cli/) reach the RunPod simulator; the gateway talks to it over HTTP", () => {
    const entryPoints = new Set([path.join("server", "start.ts")]);
    const broken = PRODUCTION.filter(
      ({ file, target }) =>
        folder(target) === "runpod-sim" &&
        folder(file) !== "runpod-sim" &&
        folder(file) !== "cli" &&
        !entryPoints.has(file),
    );
    expect(broken.map(describeImport)).toEqual([]);
  });

  it("the leaves import no other part: config/ and errors/ stand alone", () => {
    const broken = PRODUCTION.filter(
      ({ file, target }) => ["config", "errors"].includes(folder(file)) && folder(target) !== folder(file),
    );
    expect(broken.map(describeImport)).toEqual([]);
  });

  it("the upstream seam (runpod/) knows no domain: only errors/ besides itself", () => {
    const broken = PRODUCTION.filter(
      ({ file, target }) => folder(file) === "runpod" && !["runpod", "errors"].includes(folder(target)),
    );
    expect(broken.map(describeImport)).toEqual([]);
  });

  it("the browser code (web/client/) imports only itself, the committed SDL and the metric field table", () => {
    const client = path.join("web", "client");
    const shared = [path.join("..", "schema", "schema.graphql"), path.join("metrics", "metric-fields")];
    const broken = IMPORTS.filter(
      ({ file, target }) => file.startsWith(client) && !target.startsWith(client) && !shared.includes(target),
    );
    expect(broken.map(describeImport)).toEqual([]);
  });

  it("costs/ is pure: it imports nothing from deployments/ or supervision/", () => {
    const broken = PRODUCTION.filter(
      ({ file, target }) =>
        folder(file) === "costs" && ["deployments", "supervision"].includes(folder(target)),
    );
    expect(broken.map(describeImport)).toEqual([]);
  });

  it("the pod supervisor is above deployments/ and costs/: neither imports supervision/", () => {
    const broken = PRODUCTION.filter(
      ({ file, target }) =>
        ["deployments", "costs"].includes(folder(file)) && folder(target) === "supervision",
    );
    expect(broken.map(describeImport)).toEqual([]);
  });

  it("no two folders import each other (type-only imports included)", () => {
    // Each pair as "a <-> b" in alphabetical order, with the imports that make it.
    const edges = new Map<string, Import[]>();
    for (const imported of PRODUCTION) {
      const edge = `${folder(imported.file)} -> ${folder(imported.target)}`;
      edges.set(edge, [...(edges.get(edge) ?? []), imported]);
    }
    const pairs = [...edges.keys()]
      .map((edge) => edge.split(" -> "))
      .filter(([a, b]) => a < b && edges.has(`${b} -> ${a}`))
      .map(([a, b]) =>
        [
          `${a} <-> ${b}`,
          ...[...edges.get(`${a} -> ${b}`)!, ...edges.get(`${b} -> ${a}`)!].map(describeImport),
        ].join("\n  "),
      )
      .sort();
    expect(pairs).toEqual([]);
  });

  it("server/ is imported only by cli/ (type-only excepted): it composes the parts; they do not call back up", () => {
    const broken = PRODUCTION.filter(
      ({ file, target, typeOnly }) =>
        folder(target) === "server" && !["server", "cli"].includes(folder(file)) && !typeOnly,
    );
    expect(broken.map(describeImport)).toEqual([]);
  });

  it("pubsub/ imports no domain: it knows payloads only through the types its callers give it", () => {
    const broken = PRODUCTION.filter(
      ({ file, target }) => folder(file) === "pubsub" && !["pubsub", "errors"].includes(folder(target)),
    );
    expect(broken.map(describeImport)).toEqual([]);
  });

  it("auth/ imports no domain: the request context knows each loader only by the key its domain declares", () => {
    const broken = PRODUCTION.filter(
      ({ file, target }) => folder(file) === "auth" && !["auth", "config", "errors"].includes(folder(target)),
    );
    expect(broken.map(describeImport)).toEqual([]);
  });
});

describe("ARCHITECTURE.md", () => {
  const text = readFileSync(path.resolve(__dirname, "../ARCHITECTURE.md"), "utf8");

  it("has a row in its table of parts for every folder of src/", () => {
    const rows = new Set(
      text
        .split("\n")
        .filter((line) => line.startsWith("| `"))
        .flatMap((line) => [...line.split("|")[1].matchAll(/`([^`]+)\/`/g)].map(([, name]) => name)),
    );
    const folders = readdirSync(SRC).filter((name) => statSync(path.join(SRC, name)).isDirectory());
    expect(folders.filter((name) => !rows.has(name))).toEqual([]);
  });

  it("lists every arrow between the domain parts, and no arrow the code does not have", () => {
    // The composition (server/, cli/) imports everything; every part may use the leaves.
    const unlisted = new Set(["server", "cli", "errors", "config", "db", "auth", "composition", ".."]);
    const inCode = new Set(
      PRODUCTION.filter(
        ({ file, target }) =>
          folder(file) !== folder(target) && !unlisted.has(folder(file)) && !unlisted.has(folder(target)),
      ).map(({ file, target }) => `${folder(file)} -> ${folder(target)}`),
    );
    // The bullets of the Arrows section: "`a/` (and `b/`) → `c/`, `d/` (why); `e/` → …".
    const section = text.slice(text.indexOf("## Arrows"), text.indexOf("### Never"));
    const bullets = section.split(/\n(?=- )|\n\n/).filter((bullet) => bullet.startsWith("- "));
    const documented = new Set<string>();
    for (const bullet of bullets) {
      const segments: string[] = [];
      for (const piece of bullet.split(";")) {
        if (piece.includes("→") || segments.length === 0) segments.push(piece);
        else segments[segments.length - 1] += piece;
      }
      for (const segment of segments) {
        const [from, to] = segment.split("→");
        const names = (part: string) => [...part.matchAll(/`([a-z-]+)\/`/g)].map(([, name]) => name);
        for (const a of names(from))
          for (const b of names(to)) if (!unlisted.has(b)) documented.add(`${a} -> ${b}`);
      }
    }
    expect([...inCode].filter((arrow) => !documented.has(arrow)).sort()).toEqual([]);
    expect([...documented].filter((arrow) => !inCode.has(arrow)).sort()).toEqual([]);
  });
});
