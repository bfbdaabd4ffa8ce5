// What `npm test` needs from the system besides Node: checked before anything runs. A missing tool is installed
// with apt-get when that is possible (root on Debian/Ubuntu, as on the project's machines and in CI); otherwise
// the run stops at once with one line naming what to install.
const { spawnSync } = require("node:child_process");
const { existsSync } = require("node:fs");

const onPath = (command) =>
  spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;

/** [what the tests use it for, is it there, the Debian package] */
const NEEDS = [
  ["the trainer scripts' suites", () => onPath("python3"), "python3"],
  [
    "the pod venv",
    () => spawnSync("python3", ["-c", "import venv, ensurepip"], { stdio: "ignore" }).status === 0,
    "python3-venv",
  ],
  ["the bootstrap tests", () => onPath("curl"), "curl"],
  ["the shell lint", () => onPath("shellcheck"), "shellcheck"],
  ["the Redis fault tests", () => onPath("redis-server") && onPath("redis-cli"), "redis-server"],
  ["the browser tests", () => existsSync(process.env.CHROMIUM_PATH ?? "/usr/bin/chromium"), "chromium"],
];

function preflight() {
  const missing = NEEDS.filter(([, present]) => !present());
  if (missing.length === 0) return;
  const packages = missing.map(([, , pkg]) => pkg);
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  if (root && onPath("apt-get")) {
    console.log(`npm test: installing ${packages.join(", ")} (apt-get)`);
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    spawnSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
    const install = spawnSync("apt-get", ["install", "-y", "-qq", ...packages], { stdio: "inherit", env });
    if (install.status === 0 && missing.every(([, present]) => present())) return;
  }
  const needs = missing.map(([why, , pkg]) => `${pkg} (${why})`).join(", ");
  console.error(`npm test needs ${needs}: apt-get install -y ${packages.join(" ")}`);
  process.exit(1);
}

module.exports = { preflight };
