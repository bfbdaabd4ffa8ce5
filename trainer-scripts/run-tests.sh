#!/usr/bin/env bash
# Checks everything under trainer-scripts/: shellcheck, a compile of every Python file, and the
# plain-python3 unittest suite (tests/: no torch). Runs from any directory; needs bash, python3 (3.9+),
# curl and shellcheck (installed here when missing, where root and apt-get allow). The real-library
# suite (tests_real/, torch and the pinned stack in a venv) is run-pod-tests.sh (npm run test:pod).
set -euo pipefail

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)

# System tools: install a missing one where this machine allows it (root + apt-get), else stop at once.
need_tool() {
  local tool=$1 package=$2
  command -v "$tool" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "run-tests.sh: $tool is missing: apt-get install -y $package" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package"; } >/dev/null 2>&1 || true
  fi
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "run-tests.sh: $tool is required: install it (apt-get install -y $package)" >&2
    exit 1
  fi
}
need_tool shellcheck shellcheck
need_tool curl curl
shellcheck "$here"/*.sh

# Compile into a scratch folder so that no __pycache__ lands in the work tree.
PYTHONDONTWRITEBYTECODE=1 python3 - "$here" <<'PY'
import glob
import os
import py_compile
import sys
import tempfile

here = sys.argv[1]
files = sorted(
    glob.glob(os.path.join(here, "*.py"))
    + glob.glob(os.path.join(here, "tests", "*.py"))
    + glob.glob(os.path.join(here, "tests_real", "*.py"))
)
with tempfile.TemporaryDirectory() as scratch:
    for number, path in enumerate(files):
        py_compile.compile(path, cfile=os.path.join(scratch, f"{number}.pyc"), doraise=True)
print(f"py_compile: {len(files)} files OK")
PY

# The last line is "N passed, N failed" so that any CI reads the counts.
cd -- "$here"
PYTHONDONTWRITEBYTECODE=1 python3 - <<'PY'
import sys
import time
import unittest

start = time.monotonic()
suite = unittest.defaultTestLoader.discover("tests", top_level_dir=".")
result = unittest.TextTestRunner(verbosity=1).run(suite)
failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
passed = result.testsRun - failed - len(result.skipped)
print(f"trainer-scripts: suite took {time.monotonic() - start:.1f}s")
print(f"trainer-scripts: {passed} passed, {failed} failed")
if result.skipped:
    print(f"trainer-scripts: {len(result.skipped)} skipped tests are not allowed", file=sys.stderr)
sys.exit(0 if result.wasSuccessful() and result.testsRun > 0 and not result.skipped else 1)
PY
