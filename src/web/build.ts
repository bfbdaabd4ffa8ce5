import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { brotliCompress, constants as zlib, gzip } from "node:zlib";
import { build, type BuildOptions, type Metafile } from "esbuild";

/** One page of the web UI: its HTML template and its browser entry point, under `src/web/client/<name>/`. */
type AppName = "playground" | "dashboard";

export interface WebBuildOptions {
  /** Where the files go; `dist/web` of the repository by default. */
  outDir?: string;
  /** Minify (the default); tests may turn it off to build faster. */
  minify?: boolean;
}

export interface WebBuildReport {
  outDir: string;
  /** Every file a browser may load (not source maps), relative to `outDir`, with its sizes in bytes. */
  files: { file: string; bytes: number; brotliBytes?: number }[];
  millis: number;
}

const REPO_ROOT = findRepoRoot(__dirname);
const CLIENT = path.join(REPO_ROOT, "src", "web", "client");

/** Browsers this bundle is built for: what shipped in 2023 onwards (ES2022, CSS nesting not assumed). */
const TARGET = ["chrome109", "edge109", "firefox115", "safari16"];

/**
 * Builds the playground (GraphiQL + Monaco and its workers) and the dashboard into static files:
 * `<outDir>/<app>/index.html` (served with `no-cache`) and `<outDir>/<app>/assets/*-[hash].*` (immutable).
 * Nothing is loaded from another origin at run time: fonts are inlined or emitted as assets, and Monaco's
 * workers are bundled beside the page.
 */
export async function buildWeb(options: WebBuildOptions = {}): Promise<WebBuildReport> {
  const started = Date.now();
  const outDir = options.outDir ?? path.join(REPO_ROOT, "dist", "web");
  const minify = options.minify ?? true;
  await rm(outDir, { recursive: true, force: true });

  const common: BuildOptions = {
    absWorkingDir: REPO_ROOT,
    bundle: true,
    minify,
    sourcemap: "linked",
    target: TARGET,
    legalComments: "linked",
    logLevel: "warning",
    metafile: true,
    write: true,
    define: { "process.env.NODE_ENV": JSON.stringify("production") },
    loader: { ".ttf": "file", ".woff": "file", ".woff2": "file", ".svg": "file", ".graphql": "text" },
    entryNames: "[name]-[hash]",
    chunkNames: "chunk-[hash]",
    assetNames: "[name]-[hash]",
  };
  const assetsOf = (app: AppName) => path.join(outDir, app, "assets");

  // Monaco's workers first: the playground bundle needs their hashed URLs compiled in.
  const monacoEntry = (specifier: string) => require.resolve(specifier, { paths: [graphiqlReactDir()] });
  const workers = await build({
    ...common,
    entryPoints: {
      "editor.worker": monacoEntry("monaco-editor/esm/vs/editor/editor.worker.js"),
      "json.worker": monacoEntry("monaco-editor/esm/vs/language/json/json.worker.js"),
      "graphql.worker": monacoEntry("monaco-graphql/esm/graphql.worker.js"),
    },
    format: "iife",
    outdir: assetsOf("playground"),
  });
  const workerUrl = (name: string) =>
    publicUrl("playground", entryOutput(metafileOf(workers), outDir, name).js);

  const [playground, dashboard] = await Promise.all([
    build({
      ...common,
      entryPoints: { playground: path.join(CLIENT, "playground", "main.ts") },
      format: "esm",
      splitting: true, // GraphiQL loads Monaco and Prettier with dynamic imports
      outdir: assetsOf("playground"),
      define: {
        ...common.define,
        __MONACO_WORKERS__: JSON.stringify({
          editor: workerUrl("editor.worker"),
          json: workerUrl("json.worker"),
          graphql: workerUrl("graphql.worker"),
        }),
      },
    }),
    build({
      ...common,
      entryPoints: { dashboard: path.join(CLIENT, "dashboard", "main.ts") },
      format: "esm",
      outdir: assetsOf("dashboard"),
    }),
  ]);

  const playgroundEntry = entryOutput(metafileOf(playground), outDir, "playground");
  await writePage("playground", playgroundEntry, outDir);
  await writePage("dashboard", entryOutput(metafileOf(dashboard), outDir, "dashboard"), outDir);
  // esbuild also writes a stylesheet per dynamically imported chunk (Monaco's); the entry's stylesheet
  // already holds all of it (every reachable import goes there) and nothing links these copies.
  await removeOrphanStylesheets(metafileOf(playground), playgroundEntry.css);
  // The gateway has no compression middleware: the assets are stored compressed once, here.
  await precompress(assetsOf("playground"));
  await precompress(assetsOf("dashboard"));
  await writeFile(path.join(outDir, FINGERPRINT_FILE), await webInputsFingerprint());

  const files: WebBuildReport["files"] = [];
  for (const app of ["playground", "dashboard"] as const) {
    for (const name of await readdir(path.join(outDir, app, "assets"))) {
      if (/\.(?:br|gz|map|LEGAL\.txt)$/.test(name)) continue;
      files.push(await describeFile(outDir, path.join(app, "assets", name)));
    }
    files.push(await describeFile(outDir, path.join(app, "index.html")));
  }
  return { outDir, files: files.sort((a, b) => a.file.localeCompare(b.file)), millis: Date.now() - started };
}

const FINGERPRINT_FILE = ".inputs-fingerprint";
const COMPRESSIBLE = /\.(?:js|css|svg|ttf)$/;
const brotli = promisify(brotliCompress);
const gzipped = promisify(gzip);

/** Writes `<file>.br` and `<file>.gz` beside every compressible asset over 1 KiB. */
async function precompress(dir: string): Promise<void> {
  const names = (await readdir(dir)).filter((name) => COMPRESSIBLE.test(name));
  await Promise.all(
    names.map(async (name) => {
      const file = path.join(dir, name);
      const data = await readFile(file);
      if (data.byteLength < 1024) return;
      const [br, gz] = await Promise.all([
        brotli(data, {
          params: { [zlib.BROTLI_PARAM_QUALITY]: 9, [zlib.BROTLI_PARAM_SIZE_HINT]: data.byteLength },
        }),
        gzipped(data, { level: 9 }),
      ]);
      await Promise.all([writeFile(`${file}.br`, br), writeFile(`${file}.gz`, gz)]);
    }),
  );
}

/**
 * A digest of everything the web build reads (client sources, this script, the SDL, the lockfile), so that
 * tests can skip a build whose output is already current (see `ensureWebBuilt` in testing/).
 */
export async function webInputsFingerprint(): Promise<string> {
  const hash = createHash("sha256");
  const inputs = [
    ...(await listFiles(CLIENT)),
    path.join(REPO_ROOT, "src", "web", "build.ts"),
    path.join(REPO_ROOT, "schema", "schema.graphql"),
    path.join(REPO_ROOT, "package-lock.json"),
  ];
  for (const file of inputs) {
    const info = await stat(file);
    hash.update(`${path.relative(REPO_ROOT, file)}\0${info.size}\0${info.mtimeMs}\n`);
  }
  return hash.digest("hex");
}

/** Whether `outDir` holds a build of the current inputs. */
export async function isWebBuildCurrent(outDir = path.join(REPO_ROOT, "dist", "web")): Promise<boolean> {
  try {
    const recorded = await readFile(path.join(outDir, FINGERPRINT_FILE), "utf8");
    return recorded === (await webInputsFingerprint());
  } catch {
    return false;
  }
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name))
    .sort();
}

async function describeFile(outDir: string, file: string): Promise<WebBuildReport["files"][number]> {
  const bytes = (await stat(path.join(outDir, file))).size;
  const brotliBytes = await stat(path.join(outDir, `${file}.br`)).then(
    (info) => info.size,
    () => undefined,
  );
  return { file, bytes, brotliBytes };
}

/** Deletes every stylesheet esbuild wrote besides `keep` (and their maps). */
async function removeOrphanStylesheets(metafile: Metafile, keep: string | undefined): Promise<void> {
  for (const file of Object.keys(metafile.outputs)) {
    const absolute = path.resolve(REPO_ROOT, file);
    if (!file.endsWith(".css") || absolute === keep) continue;
    await rm(absolute, { force: true });
    await rm(`${absolute}.map`, { force: true });
  }
}

function metafileOf(result: { metafile?: Metafile }): Metafile {
  if (!result.metafile) throw new Error("esbuild returned no metafile");
  return result.metafile;
}

/** The JS and CSS esbuild wrote for one named entry point, as absolute paths. */
function entryOutput(metafile: Metafile, outDir: string, name: string): { js: string; css?: string } {
  for (const [file, output] of Object.entries(metafile.outputs)) {
    const base = path.basename(file);
    if (!output.entryPoint || !base.startsWith(`${name}-`) || !base.endsWith(".js")) continue;
    return {
      js: path.resolve(REPO_ROOT, file),
      css: output.cssBundle ? path.resolve(REPO_ROOT, output.cssBundle) : undefined,
    };
  }
  throw new Error(`esbuild wrote no entry point named ${name} under ${outDir}`);
}

/** `/playground/assets/x-HASH.js` for a file written under `<outDir>/playground/assets/`. */
function publicUrl(app: AppName, file: string): string {
  return `/${app}/assets/${path.basename(file)}`;
}

/** Fills the page's `<!-- assets -->` marker with its favicon, stylesheet and module script. */
async function writePage(app: AppName, entry: { js: string; css?: string }, outDir: string): Promise<void> {
  const icon = await readFile(path.join(CLIENT, "shared", "favicon.svg"));
  const iconName = `favicon-${createHash("sha256").update(icon).digest("hex").slice(0, 8).toUpperCase()}.svg`;
  await mkdir(path.join(outDir, app, "assets"), { recursive: true });
  await writeFile(path.join(outDir, app, "assets", iconName), icon);

  const tags = [
    `<link rel="icon" type="image/svg+xml" href="/${app}/assets/${iconName}" />`,
    ...(entry.css ? [`<link rel="stylesheet" href="${publicUrl(app, entry.css)}" />`] : []),
    `<script type="module" src="${publicUrl(app, entry.js)}"></script>`,
  ];
  const template = await readFile(path.join(CLIENT, app, "index.html"), "utf8");
  if (!template.includes("<!-- assets -->"))
    throw new Error(`${app}/index.html has no <!-- assets --> marker`);
  await writeFile(
    path.join(outDir, app, "index.html"),
    template.replace("<!-- assets -->", tags.join("\n    ")),
  );
}

function graphiqlReactDir(): string {
  return path.dirname(require.resolve("@graphiql/react/package.json", { paths: [REPO_ROOT] }));
}

/** The folder with package.json above this file (works from `src/web/` and from `dist/src/web/`). */
function findRepoRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "package.json"))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

async function main(): Promise<void> {
  const report = await buildWeb();
  const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
  for (const app of ["playground", "dashboard"]) {
    const files = report.files.filter((f) => f.file.startsWith(`${app}/`));
    const raw = files.reduce((sum, f) => sum + f.bytes, 0);
    const brotli = files.reduce((sum, f) => sum + (f.brotliBytes ?? f.bytes), 0);
    console.log(`${app}: ${files.length} files, ${kib(raw)} (${kib(brotli)} as served with brotli)`);
    for (const f of [...files].sort((a, b) => b.bytes - a.bytes).slice(0, 6)) {
      const served = f.brotliBytes === undefined ? "" : ` (br ${kib(f.brotliBytes)})`;
      console.log(`  ${kib(f.bytes).padStart(11)}${served.padEnd(18)}  ${f.file}`);
    }
  }
  console.log(
    `web UI built into ${path.relative(process.cwd(), report.outDir) || "."} in ${report.millis} ms`,
  );
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
