#!/usr/bin/env node
// `npm test`: the jest suite (TypeScript: unit, service and end-to-end tests), then, when no test filter was
// given, the trainer scripts' own suite (shellcheck, py_compile, Python unittest without torch), then the
// real-library pod suite (`npm run test:pod`: train.py on tiny models with the pinned torch/transformers stack
// in a venv it creates on first use). Ends with one line that counts all three: "Summary: N passed, N failed".
const { spawnSync } = require("node:child_process");
const { mkdtempSync, readFileSync, rmSync } = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const { preflight } = require("./preflight");

const root = path.resolve(__dirname, "..");
const args = process.argv.slice(2);
const filtered = args.some((arg) => !arg.startsWith("-"));
if (!filtered) preflight();
const scratch = mkdtempSync(path.join(os.tmpdir(), "traingate-suite-"));
const report = path.join(scratch, "jest.json");

const jest = spawnSync(
  process.execPath,
  [require.resolve("jest/bin/jest"), "--json", `--outputFile=${report}`, ...args],
  {
    cwd: root,
    stdio: "inherit",
    env: {
      ...process.env,
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --experimental-vm-modules`.trim(),
    },
  },
);
let passed = 0;
let failed = 0;
try {
  const result = JSON.parse(readFileSync(report, "utf8"));
  passed += result.numPassedTests;
  failed += result.numFailedTests + result.numRuntimeErrorTestSuites;
} catch {
  failed += 1; // jest did not even report
}
rmSync(scratch, { recursive: true, force: true });

/** Runs one of the Python suites; adds its closing "N passed, N failed" line to the counts. */
function pythonSuite(script) {
  const python = spawnSync("bash", [path.join(root, script)], {
    cwd: root,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  process.stdout.write(python.stdout ?? "");
  process.stderr.write(python.stderr ?? "");
  const counts = /(\d+) passed, (\d+) failed\s*$/.exec((python.stdout ?? "").trim());
  if (counts) {
    passed += Number(counts[1]);
    failed += Number(counts[2]);
  } else {
    failed += 1;
  }
  return python.status ?? 1;
}

let pythonStatus = 0;
if (!filtered) {
  pythonStatus = pythonSuite("trainer-scripts/run-tests.sh");
  const podStatus = pythonSuite("trainer-scripts/run-pod-tests.sh");
  if (pythonStatus === 0) pythonStatus = podStatus;
}

console.log(`Summary: ${passed} passed, ${failed} failed`);
process.exit(jest.status !== 0 || pythonStatus !== 0 || failed > 0 ? 1 : 0);
